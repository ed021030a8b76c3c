import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { ColdpipeError, errorDefinitions, isColdpipeError, type ErrorCode } from '../core/errors.ts'

/** Codes whose context describes internals (database paths, SQL), not the caller's request. */
const internalDetailCodes = new Set<ErrorCode>(['INTERNAL', 'WAREHOUSE_QUERY_FAILED', 'WAREHOUSE_READ_ONLY'])

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
    if (status === 404) return new ColdpipeError('ROUTE_NOT_FOUND', fastifyError.message, { cause: error })
    return new ColdpipeError('REQUEST_INVALID', fastifyError.message, { cause: error, context: { fastifyCode: fastifyError.code } })
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

/** One place maps codes to HTTP statuses and logs: 4xx at info, 5xx at error, with the request id. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => send(request, reply, error))
  app.setNotFoundHandler((request, reply) =>
    send(request, reply, new ColdpipeError('ROUTE_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`, { context: { method: request.method, path: request.url.split('?')[0] } })),
  )
}
