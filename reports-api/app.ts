import { createServer, type IncomingMessage } from 'node:http'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify'
import { ColdpipeError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { Registry } from '../core/metrics.ts'
import { AccessControl, admitCaller, RateLimiter, type Caller } from './access-control.ts'
import type { ApiConfig } from './api-config.ts'
import { createApiMetrics, type PoolStats } from './api-metrics.ts'
import { cacheHitFastPath, parseQuery, requestIdOf, type HandedOver } from './cache-hit-fast-path.ts'
import { installErrorHandling } from './error-handler.ts'
import { registerOpsRoutes } from './ops-routes.ts'
import { QueryLimiter } from './query-limiter.ts'
import { ReportCatalog } from './report-catalog.ts'
import type { ResolvedParam } from './report-definition.ts'
import { paramJsonSchema } from './report-params.ts'
import { registerReportRoutes } from './report-routes.ts'
import { ReportService } from './report-service.ts'
import { ResultCache } from './result-cache.ts'
import { SnapshotPool, type SnapshotSource } from './snapshot-pool.ts'
import { registerSchemaRoutes } from './schema-routes.ts'
import { registerSqlRoute } from './sql-route.ts'
import { SqlWorkerPool } from './sql-worker/sql-worker-pool.ts'
import { registerWebRoutes } from './web-routes.ts'
import { registerReconciliationRoutes } from './reconciliation-routes.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling: set for /reports, /sql and /jobs routes. */
    caller: Caller | null
  }
}

/** What a routes plugin (e.g. the jobs endpoints) gets to check access the same way the reports do. */
export interface ApiPluginContext {
  /** Throws AUTH_FORBIDDEN unless the caller's key has `jobs: true` (and keys are configured). */
  requireJobs(request: FastifyRequest): Caller
}

/** Extra routes mounted under a prefix that needs an API key, e.g. `{ prefix: '/jobs', register }`. */
export interface ApiPlugin {
  prefix: string
  register(app: FastifyInstance, context: ApiPluginContext): Promise<void> | void
}

export interface AppDeps {
  snapshots: SnapshotSource
  reportsDir: string
  config: ApiConfig
  logger: Logger
  metrics: Registry
  /** The jobs endpoints (another stage) plug in here; mounted at their prefix, behind API keys and rate limits. */
  jobs?: ApiPlugin
  /** How often the current snapshot pointer is re-read (default 100 ms); tests that need cache hits answered at once set it long. */
  snapshotCheckIntervalMs?: number
}

// Reconciliation results name the keys of differing rows: data, so behind the keys like reports.
const protectedPrefixes = ['/reports', '/sql', '/reconciliation']

/** Whether the path of `url` (query string ignored) is one of `prefixes` or below one. */
function isProtected(url: string, prefixes: readonly string[]): boolean {
  const end = url.indexOf('?')
  const path = end < 0 ? url : url.slice(0, end)
  for (const prefix of prefixes) {
    if (path.startsWith(prefix) && (path.length === prefix.length || path.charCodeAt(prefix.length) === 47 /* / */)) return true
  }
  return false
}

/** The reports API as a fastify instance (not listening); `app.close()` closes its snapshots. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config } = deps
  const metrics = createApiMetrics(deps.metrics)
  const cache = new ResultCache(config.cacheMaxBytes)
  // Ad-hoc SQL runs in worker processes of its own, so it can be killed and never holds the server's memory;
  // workers are started only when /sql is on (enabled, and keys configured).
  const sqlOn = config.sqlEnabled && config.apiKeys.length > 0
  const workers = new SqlWorkerPool({
    warehouseDir: deps.snapshots.dir,
    size: config.sqlMaxConcurrent,
    memoryLimit: config.sqlMemoryLimit,
    threads: config.sqlWorkerThreads,
    maxRssBytes: config.sqlWorkerMaxRssBytes,
    killGraceMs: config.sqlKillGraceMs,
    logger: deps.logger,
  })
  const pool = new SnapshotPool(deps.snapshots, {
    logger: deps.logger,
    streamMemoryLimit: config.streamMemoryLimit,
    ...(deps.snapshotCheckIntervalMs === undefined ? {} : { checkIntervalMs: deps.snapshotCheckIntervalMs }),
    onSwitch: (_from, to) => {
      cache.dropSnapshotsExcept(to)
      if (sqlOn) workers.setSnapshot(to)
    },
  })
  // Two pools: reports and ad-hoc SQL never wait for each other's slots, and each deadline covers its queue wait.
  const limiter = new QueryLimiter({
    name: 'reports',
    maxRunning: config.maxConcurrentQueries,
    maxQueued: config.maxQueuedQueries,
    deadlineMs: config.reportTimeoutMs,
    timeoutCode: 'REPORT_TIMEOUT',
    onShed: () => metrics.shed.inc({ pool: 'reports' }),
  })
  const sqlLimiter = new QueryLimiter({
    name: 'sql',
    maxRunning: config.sqlMaxConcurrent,
    maxQueued: config.sqlMaxQueued,
    deadlineMs: config.sqlTimeoutMs,
    timeoutCode: 'SQL_TIMEOUT',
    onShed: () => metrics.shed.inc({ pool: 'sql' }),
  })
  const poolStats = (): PoolStats => ({ reports: limiter.stats, sql: { ...sqlLimiter.stats, workers: workers.stats } })
  const catalog = new ReportCatalog(deps.reportsDir, { checkIntervalMs: config.reportsCheckIntervalMs, logger: deps.logger })
  const service = new ReportService({ catalog, pool, limiter, cache, config, metrics })
  const access = new AccessControl(config.apiKeys)
  const rateLimiter = new RateLimiter(config.rateLimitPerMinute)
  const prefixes = deps.jobs ? [...protectedPrefixes, deps.jobs.prefix] : protectedPrefixes
  const handedOver = new WeakMap<IncomingMessage, HandedOver>()
  let closing = false
  const fastPath = cacheHitFastPath({ service, access, rateLimiter, metrics, logger: deps.logger, handedOver, closing: () => closing })

  const app = Fastify({
    // pino's Logger and fastify's logger type differ only in generics; fastify uses it as a pino logger.
    loggerInstance: deps.logger as unknown as FastifyBaseLogger,
    genReqId: (request) => requestIdOf(request.headers['x-request-id']),
    // Requests are logged once, by the onResponse hook below, instead of fastify's two lines per request.
    logController: new LogController({ requestIdLogLabel: 'requestId', disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    routerOptions: { ignoreTrailingSlash: true, querystringParser: parseQuery },
    // Cache hits of GET /reports/:name are answered before fastify (cache-hit-fast-path.ts); the server is
    // otherwise the one fastify would make for these options (no TLS or HTTP/2 here).
    serverFactory: (handler, options) => {
      const server = createServer((request, response) => {
        if (!fastPath(request, response)) handler(request, response)
      })
      // Fastify's defaults are filled in by now.
      const timeouts = options as { keepAliveTimeout: number; requestTimeout: number; connectionTimeout: number; maxRequestsPerSocket: number }
      server.keepAliveTimeout = timeouts.keepAliveTimeout
      server.requestTimeout = timeouts.requestTimeout
      server.setTimeout(timeouts.connectionTimeout)
      if (timeouts.maxRequestsPerSocket > 0) server.maxRequestsPerSocket = timeouts.maxRequestsPerSocket
      return server
    },
  })
  // First of the preClose hooks, so it runs as fastify starts refusing requests (503): the fast path stops too.
  app.addHook('preClose', (done) => {
    closing = true
    done()
  })
  app.decorateRequest('caller', null)
  installErrorHandling(app)

  // Callback hooks, not async ones: each async hook costs a promise and a microtask turn on every request.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id)
    if (!isProtected(request.url, prefixes)) return done()
    // The fast path may have admitted this request already (its rate-limit token is spent once).
    const admission = handedOver.get(request.raw)?.admission
    try {
      if (admission && 'error' in admission) throw admission.error
      request.caller = admission ? admission.caller : admitCaller(access, rateLimiter, request.headers['x-api-key'], request.ip)
    } catch (error) {
      return done(error as Error)
    }
    done()
  })
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched'
    metrics.requests.inc({ method: request.method, route, status: String(reply.statusCode) })
    metrics.requestSeconds.observe({ method: request.method, route }, reply.elapsedTime / 1000)
    request.log.info({ method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime), caller: request.caller?.name }, 'request')
    done()
  })
  app.addHook('onClose', async () => {
    await Promise.all([pool.close(), workers.close()])
  })

  await catalog.refresh(true)
  await app.register(swagger, {
    openapi: {
      info: { title: 'coldpipe reports API', version: '1', description: 'Named reports and ad-hoc SQL over published warehouse snapshots. Every error is `{ error: { code, message, details? } }`.' },
      components: { securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'X-Api-Key' } } },
      security: config.apiKeys.length > 0 ? [{ apiKey: [] }] : [],
    },
    // One documented path per report, with its own parameters, from the catalog as it was when first asked.
    transformObject: (documents) => {
      const document = 'openapiObject' in documents ? documents.openapiObject : documents.swaggerObject
      return addReportPaths(document as Record<string, unknown>, catalogSnapshot)
    },
  })
  let catalogSnapshot = (await catalog.list()).reports
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true })
  app.addHook('onReady', async () => {
    catalogSnapshot = (await catalog.list()).reports
  })

  registerOpsRoutes(app, { pool, metrics, poolStats, registry: deps.metrics })
  const sqlAllowed = (callerSql: boolean): void => {
    if (!config.sqlEnabled) throw new ColdpipeError('SQL_DISABLED', 'ad-hoc SQL is turned off (api.sqlEnabled)')
    if (access.open) throw new ColdpipeError('SQL_DISABLED', 'ad-hoc SQL needs API keys to be configured (api.apiKeys with sql: true)')
    if (!callerSql) throw new ColdpipeError('AUTH_FORBIDDEN', 'this API key may not run ad-hoc SQL (sql: false)')
  }
  const canRunSql = (callerSql: boolean): boolean => config.sqlEnabled && !access.open && callerSql
  registerReportRoutes(app, { catalog, service, access, canRunSql, notCached: (request) => handedOver.get(request.raw)?.notCached === true })
  registerSqlRoute(app, { pool, limiter: sqlLimiter, workers, config, streamQuota: service.streamQuota, sqlAllowed })
  registerSchemaRoutes(app, { pool, config, sqlAllowed })
  registerWebRoutes(app)
  registerReconciliationRoutes(app, { warehouseDir: deps.snapshots.dir, registry: deps.metrics })
  if (deps.jobs) {
    const jobs = deps.jobs
    await app.register(
      async (scope) => {
        await jobs.register(scope, {
          requireJobs: (request) => {
            if (access.open || !request.caller) throw new ColdpipeError('AUTH_REQUIRED', 'the jobs endpoints need an API key with jobs: true')
            if (!request.caller.jobs) throw new ColdpipeError('AUTH_FORBIDDEN', `API key "${request.caller.name}" may not use the jobs endpoints`)
            return request.caller
          },
        })
      },
      { prefix: jobs.prefix },
    )
  }
  // Warm the pool so the first request does not open the snapshot; no snapshot yet is fine (/ready says so).
  await pool.current().catch((error) => deps.logger.warn({ err: error }, 'cannot open the current snapshot yet'))
  // The first ad-hoc query should not pay for starting a worker inside its deadline.
  if (sqlOn) await workers.warm()
  return app
}

function addReportPaths(document: Record<string, unknown>, reports: Awaited<ReturnType<ReportCatalog['list']>>['reports']): Record<string, unknown> {
  const paths = { ...(document.paths as Record<string, unknown>) }
  for (const report of reports) {
    paths[`/reports/${report.name}`] = {
      get: {
        tags: ['reports'],
        summary: report.title,
        description: report.description ?? '',
        parameters: [
          ...report.params.map((param) => ({
            name: param.name,
            in: 'query',
            required: param.required,
            description: param.description,
            schema: paramSchemaForDocs(param),
          })),
          ...['format', 'limit', 'offset', 'sort', 'asOf', 'acceptStale', 'stream'].map((name) => ({ $ref: `#/components/parameters/${name}` })),
        ],
        responses: {
          200: { description: 'Rows with snapshot and freshness metadata (JSON), or CSV, NDJSON, Parquet; with stream=true the whole result, chunked, row count in the x-coldpipe-rows trailer' },
        },
      },
    }
  }
  const components = { ...(document.components as Record<string, unknown>) }
  components.parameters = reservedParamDocs
  return { ...document, paths, components }
}

function paramSchemaForDocs(param: ResolvedParam): Record<string, unknown> {
  const schema = paramJsonSchema(param)
  delete schema.description
  return schema
}

export const reservedParamDocs: Record<string, unknown> = {
  format: { name: 'format', in: 'query', schema: { type: 'string', enum: ['json', 'csv', 'ndjson', 'parquet'] }, description: 'Overrides the Accept header' },
  limit: { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 0 }, description: 'Rows per page (JSON default 1000; at most api.maxRows)' },
  offset: { name: 'offset', in: 'query', schema: { type: 'integer', minimum: 0 }, description: 'Rows to skip' },
  sort: { name: 'sort', in: 'query', schema: { type: 'string' }, description: 'A declared column; prefix - for descending' },
  asOf: { name: 'asOf', in: 'query', schema: { type: 'string', format: 'date-time' }, description: 'Answer from the newest snapshot published at or before this time' },
  acceptStale: { name: 'acceptStale', in: 'query', schema: { type: 'boolean' }, description: 'Answer even when sources are staler than the report allows' },
  stream: {
    name: 'stream',
    in: 'query',
    schema: { type: 'boolean' },
    description:
      'true: the whole result (not a page; limit optional) streamed as CSV (default), NDJSON or Parquet (JSON: 406); the row count follows in the x-coldpipe-rows trailer. At most api.maxStreamsPerKey at once per key (429)',
  },
}
