import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { ColdpipeError, errorDefinitions, isColdpipeError, type ErrorCode } from '../core/errors.ts'

/** Codes whose context describes internals (database paths, SQL), not the caller's request. */
const internalDetailCodes = new Set<ErrorCode>(['INTERNAL', 'WAREHOUSE_QUERY_FAILED', 'WAREHOUSE_READ_ONLY'])

/** Fastify's own 4xx errors (body limit, content type, ...) keep their status through these codes. */
const statusCodes: Partial<Record<number, ErrorCode>> = {
  404: 'ROUTE_NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  408: 'REQUEST_TIMEOUT',
  413: 'REQUEST_TOO_LARGE',
  415: 'MEDIA_TYPE_UNSUPPORTED',
  431: 'REQUEST_HEADERS_TOO_LARGE',
}

const methods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: Record<string, unknown> }
}

/** Any thrown thing as a ColdpipeError: fastify's own errors (validation, body parsing, 404) get codes too. */
export function toColdpipeError(error: unknown): ColdpipeError {
  if (isColdpipeError(error)) return error
  const fastifyError = error as FastifyError
  if (fastifyError?.validation) {
    const first = fastifyError.validation[0]
    const field = first ? `${fastifyError.validationContext ?? 'request'}${first.instancePath || ''}` : 'request'
    return new ColdpipeError('REQUEST_INVALID', `${field}: ${first?.message ?? fastifyError.message}`, { context: { field } })
  }
  const status = fastifyError?.statusCode
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code = statusCodes[status] ?? 'REQUEST_INVALID'
    return new ColdpipeError(code, fastifyError.message, { cause: error, ...(code === 'ROUTE_NOT_FOUND' ? {} : { context: { fastifyCode: fastifyError.code } }) })
  }
  return new ColdpipeError('INTERNAL', 'internal error; the request id in the logs has the details', { cause: error })
}

export function errorBody(error: ColdpipeError): ErrorBody {
  const details = internalDetailCodes.has(error.code) || Object.keys(error.context).length === 0 ? undefined : error.context
  return { error: { code: error.code, message: error.message, ...(details ? { details } : {}) } }
}

function send(request: FastifyRequest, reply: FastifyReply, raw: unknown): FastifyReply {
  const error = toColdpipeError(raw)
  const status = errorDefinitions[error.code].status
  const log = { code: error.code, status, err: raw instanceof Error ? raw : undefined, details: error.context }
  if (status >= 500) request.log.error(log, error.message)
  else request.log.info({ code: error.code, status, details: error.context }, error.message)
  const retryAfter = error.context.retryAfterSeconds
  if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter))
  else if (error.code === 'OVERLOADED' || error.code === 'WAREHOUSE_NO_SNAPSHOT') reply.header('retry-after', '1')
  return reply.status(status).type('application/json; charset=utf-8').send(errorBody(error))
}

/**
 * Errors Node's HTTP parser meets before fastify sees a request (a 100 KB URL, oversized headers, a request
 * that never finishes) get the same JSON error shape, written straight to the socket.
 */
export function clientErrorHandler(log: FastifyInstance['log']) {
  return (error: NodeJS.ErrnoException, socket: Duplex): void => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return
    const code: ErrorCode =
      error.code === 'HPE_HEADER_OVERFLOW' ? 'REQUEST_HEADERS_TOO_LARGE' : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'REQUEST_TIMEOUT' : 'REQUEST_INVALID'
    const message =
      code === 'REQUEST_HEADERS_TOO_LARGE'
        ? 'the request line (URL) or headers are larger than the server accepts; send long input in a POST body'
        : code === 'REQUEST_TIMEOUT'
          ? 'the request was not received in time'
          : 'the request is not valid HTTP'
    const status = errorDefinitions[code].status
    log.info({ code, status, parserCode: error.code }, message)
    if (socket.writable) {
      const body = JSON.stringify(errorBody(new ColdpipeError(code, message, { context: { parserCode: error.code } })))
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      )
    }
    socket.destroy()
  }
}

/** Methods other than the request's that a known path answers (for 405 and its Allow header). */
function otherMethods(app: FastifyInstance, method: string, path: string): string[] {
  return methods.filter((candidate) => candidate !== method && app.findRoute({ method: candidate, url: path }) !== null)
}

/** One place maps codes to HTTP statuses and logs: 4xx at info, 5xx at error, with the request id. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => send(request, reply, error))
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? ''
    const allowed = otherMethods(app, request.method, path)
    if (allowed.length > 0) {
      reply.header('allow', allowed.join(', '))
      return send(request, reply, new ColdpipeError('METHOD_NOT_ALLOWED', `${path} does not answer ${request.method}; it answers ${allowed.join(', ')}`, { context: { method: request.method, path, allowed } }))
    }
    return send(request, reply, new ColdpipeError('ROUTE_NOT_FOUND', `no route ${request.method} ${path}`, { context: { method: request.method, path } }))
  })
  // Fastify listens for the parser's errors with its own plain-JSON handler; this one keeps the error shape.
  app.server.removeAllListeners('clientError')
  app.server.on('clientError', clientErrorHandler(app.log))
}
