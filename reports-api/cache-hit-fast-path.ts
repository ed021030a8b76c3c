import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import querystring from 'fast-querystring'
import type { Logger } from '../core/logger.ts'
import { admitCaller, type AccessControl, type Caller, type RateLimiter } from './access-control.ts'
import type { ApiMetrics } from './api-metrics.ts'
import { wantsStream, type ReportRequest } from './report-request.ts'
import { reservedQuery } from './report-routes.ts'
import type { ReportService } from './report-service.ts'

// The query-string parser fastify's router (find-my-way) uses; the app hands it to fastify as its
// querystringParser too, so the fast path and the route read a query identically.

export function parseQuery(query: string): Record<string, unknown> {
  return query.length === 0 ? {} : querystring.parse(query)
}

/** The request id: the caller's X-Request-Id when it is a sane token, else a new UUID (fastify's genReqId too). */
export function requestIdOf(given: string | string[] | undefined): string {
  return typeof given === 'string' && /^[\w.:-]{1,100}$/.test(given) ? given : randomUUID()
}

/** What the fast path learnt of a request it handed on to fastify, so fastify does not repeat it. */
export interface HandedOver {
  /** The caller it admitted (one rate-limit token spent), or the error admitting gave. */
  admission: { caller: Caller } | { error: unknown }
  /** ReportService.cachedReply already answered "not cached" for it. */
  notCached?: boolean
}

/** The route's path (fastify: `maxParamLength` 100, the name pattern of the route's params schema); no trailing slash. */
const reportPath = /^\/reports\/[a-z][a-z0-9_]{0,99}$/
const reportsPrefixLength = '/reports/'.length
const route = '/reports/:name'
/** Reserved query parameters the route's schema types as strings: repeated, fastify refuses them (400). */
const reservedNames = Object.keys(reservedQuery.properties)

/**
 * A reply's headers as writeHead's flat [name, value, …] list, x-request-id first (its value left empty), then
 * content-type and content-length as fastify's reply.send adds them for a string or Buffer payload. Kept per
 * headers object: a hit's headers and body are built once per cache entry and freshness second
 * (ReportService.answer), so most hits copy a ready list instead of spreading, sizing and stringifying anew.
 */
const headerLists = new WeakMap<Record<string, string>, { body: Buffer | string; list: string[] }>()

export function headerList(replyHeaders: Record<string, string>, body: Buffer | string): string[] {
  const known = headerLists.get(replyHeaders)
  if (known && known.body === body) return known.list
  const headers: Record<string, string> = { 'x-request-id': '', ...replyHeaders }
  headers['content-type'] ??= typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/octet-stream'
  headers['content-length'] = String(typeof body === 'string' ? Buffer.byteLength(body) : body.length)
  const list = Object.entries(headers).flat()
  headerLists.set(replyHeaders, { body, list })
  return list
}

function header(request: IncomingMessage, key: string): string | undefined {
  const value = request.headers[key]
  return Array.isArray(value) ? value.join(',') : value
}

/**
 * Answers `GET /reports/:name` cache hits and 304s straight on the raw response, before fastify: fastify's
 * request and reply objects, routing, schema check, hooks and per-request child logger were most of a hit's
 * CPU (docs/benchmarks.md, Reports API). Everything a client or operator sees is what the fastify route gives:
 * the same status, headers (x-request-id first, content-type and content-length as fastify sets them), body,
 * admission (API key, report access, rate limit), request log line and metrics. Anything else (a miss, an
 * error, a stream, HEAD, a path or query the route would read differently, shutdown) returns false untouched
 * and goes to fastify, with what was learnt in `handedOver` so admission is not done twice.
 */
export function cacheHitFastPath(deps: {
  service: ReportService
  access: AccessControl
  rateLimiter: RateLimiter
  metrics: ApiMetrics
  logger: Logger
  handedOver: WeakMap<IncomingMessage, HandedOver>
  closing: () => boolean
}): (request: IncomingMessage, response: ServerResponse) => boolean {
  const { service, access, rateLimiter, metrics, logger, handedOver } = deps
  return (request, response) => {
    if (request.method !== 'GET' || deps.closing()) return false
    const url = request.url ?? ''
    const mark = url.indexOf('?')
    const path = mark < 0 ? url : url.slice(0, mark)
    if (!reportPath.test(path)) return false
    const start = performance.now()
    let caller: Caller
    try {
      caller = admitCaller(access, rateLimiter, request.headers['x-api-key'], request.socket.remoteAddress as string)
    } catch (error) {
      handedOver.set(request, { admission: { error } })
      return false
    }
    let reply
    try {
      const name = path.slice(reportsPrefixLength)
      const rawQuery = mark < 0 ? '' : url.slice(mark + 1)
      const query = parseQuery(rawQuery)
      if (!access.canRunReport(caller, name) || reservedNames.some((key) => Array.isArray(query[key])) || wantsStream(query)) {
        handedOver.set(request, { admission: { caller } })
        return false
      }
      const reportRequest: ReportRequest = {
        name,
        query,
        accept: header(request, 'accept'),
        ifNoneMatch: header(request, 'if-none-match'),
        acceptStaleHeader: header(request, 'x-coldpipe-accept-stale'),
        rawQuery,
      }
      reply = service.cachedReply(reportRequest)
      if (!reply) {
        handedOver.set(request, { admission: { caller }, notCached: true })
        return false
      }
    } catch {
      // The route throws the same error again, with fastify's error reply.
      handedOver.set(request, { admission: { caller } })
      return false
    }
    const id = requestIdOf(request.headers['x-request-id'])
    const body = reply.body ?? ''
    const headers = headerList(reply.headers, body).slice()
    headers[1] = id
    response.writeHead(reply.status, headers)
    response.end(body)
    const elapsed = performance.now() - start
    const status = String(reply.status)
    metrics.requests.inc({ method: 'GET', route, status })
    metrics.requestSeconds.observe({ method: 'GET', route }, elapsed / 1000)
    logger.info({ requestId: id, method: 'GET', url, status: reply.status, ms: Math.round(elapsed), caller: caller.name }, 'request')
    return true
  }
}
