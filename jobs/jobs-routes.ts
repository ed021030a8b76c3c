import { createHash, timingSafeEqual } from 'node:crypto'
import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify'
import { formatPath } from '../core/config/index.ts'
import { ColdpipeError } from '../core/errors.ts'
import type { ApiKeyConfig } from '../reports-api/api-config.ts'
import type { Scheduler } from './scheduler.ts'
import type { StatusReport } from './status.ts'

export interface JobsRoutesDeps {
  scheduler: Pick<Scheduler, 'list' | 'history' | 'start' | 'job'>
  /** `api.apiKeys` from config. With keys, every request needs one; POST /jobs/:id/run needs one with `jobs: true`. */
  apiKeys: ApiKeyConfig[]
  /** Builds the status report (collectStatus with this process's live breaker state). */
  status?: () => Promise<StatusReport>
}

const RunBodySchema = Type.Object(
  {
    full: Type.Optional(Type.Boolean()),
    cursorRange: Type.Optional(
      Type.Object({ from: Type.Optional(Type.String({ minLength: 1 })), to: Type.Optional(Type.String({ minLength: 1 })) }, { additionalProperties: false }),
    ),
    tables: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
    /** Wait for the run to end and answer with its final record (default: answer 202 once it started). */
    wait: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
)
type RunBody = Static<typeof RunBodySchema>

const digest = (value: string): Buffer => createHash('sha256').update(value).digest()

function findKey(keys: ApiKeyConfig[], presented: string | undefined): ApiKeyConfig | undefined {
  if (!presented) return undefined
  const wanted = digest(presented)
  return keys.find((k) => timingSafeEqual(digest(k.key), wanted))
}

function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers['x-api-key']
  return Array.isArray(header) ? header[0] : header
}

interface RouteGuards {
  /** Called before every read (list, runs, status). */
  read(request: FastifyRequest): void
  /** Called before a run; returns the caller's name for the log. */
  run(request: FastifyRequest): { name: string }
}

/** The routes, relative to where they are mounted: `${base}` lists, `${base}/:id/runs`, `${base}/:id/run`. */
function registerRoutes(app: FastifyInstance, deps: JobsRoutesDeps, base: string, statusPath: string, guards: RouteGuards): void {
  app.get(base === '' ? '/' : base, async (request) => {
    guards.read(request)
    return { jobs: await deps.scheduler.list() }
  })

  app.get<{ Params: { id: string }; Querystring: { limit?: string } }>(`${base}/:id/runs`, async (request) => {
    guards.read(request)
    const limit = request.query.limit === undefined ? 50 : Number(request.query.limit)
    if (!Number.isInteger(limit) || limit < 1) {
      throw new ColdpipeError('REQUEST_INVALID', `query parameter limit must be a positive integer (got ${JSON.stringify(request.query.limit)})`, { context: { path: 'limit' } })
    }
    return { job: request.params.id, runs: await deps.scheduler.history(request.params.id, limit) }
  })

  app.post<{ Params: { id: string } }>(`${base}/:id/run`, async (request, reply) => {
    const caller = guards.run(request)
    deps.scheduler.job(request.params.id)
    const body = (request.body ?? {}) as unknown
    const problem = [...Value.Errors(RunBodySchema, body)][0]
    if (problem) {
      const path = formatPath(problem.path)
      throw new ColdpipeError('REQUEST_INVALID', `request body ${path}: ${problem.message}`, { context: { path } })
    }
    const { wait, ...options } = body as RunBody
    request.log.info({ job: request.params.id, key: caller.name, options }, 'job run requested')
    const { record, done } = await deps.scheduler.start(request.params.id, options)
    if (wait) return done
    void done.catch(() => undefined)
    return reply.code(202).send(record)
  })

  app.get(statusPath, async (request) => {
    guards.read(request)
    if (!deps.status) throw new ColdpipeError('ROUTE_NOT_FOUND', 'status is not available in this process')
    return deps.status()
  })
}

/**
 * GET /jobs, GET /jobs/:id/runs, POST /jobs/:id/run and GET /status as a self-contained fastify plugin
 * that checks API keys itself (for a bare fastify app). Errors are thrown as ColdpipeError; the app's error
 * handler maps code to status.
 */
export function jobsRoutes(deps: JobsRoutesDeps): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    registerRoutes(app, deps, '/jobs', '/status', {
      read: (request) => {
        if (deps.apiKeys.length === 0) return
        const presented = presentedKey(request)
        if (!presented) throw new ColdpipeError('AUTH_REQUIRED', 'this endpoint needs an API key in the X-Api-Key header')
        if (!findKey(deps.apiKeys, presented)) throw new ColdpipeError('AUTH_FORBIDDEN', 'the API key in X-Api-Key is not known')
      },
      run: (request) => {
        const presented = presentedKey(request)
        if (!presented) throw new ColdpipeError('AUTH_REQUIRED', 'running a job needs an API key with jobs: true in the X-Api-Key header')
        const key = findKey(deps.apiKeys, presented)
        if (!key) throw new ColdpipeError('AUTH_FORBIDDEN', 'the API key in X-Api-Key is not known')
        if (!key.jobs) throw new ColdpipeError('AUTH_FORBIDDEN', `API key ${key.name} may not run jobs (its config entry lacks jobs: true)`, { context: { key: key.name } })
        return key
      },
    })
  }
}

/** The shape of the reports API's plugin hook (reports-api `ApiPlugin`), kept here so jobs does not import the API. */
export interface JobsApiPlugin {
  prefix: string
  register(app: FastifyInstance, context: { requireJobs(request: FastifyRequest): { name: string } }): Promise<void>
}

/**
 * The same endpoints for the reports API's plugin hook (`buildApp({ jobs: jobsApiPlugin(deps) })`): mounted
 * at /jobs, behind the API's own key check and rate limit; running a job needs `requireJobs`. Status is
 * at GET /jobs/status there.
 */
export function jobsApiPlugin(deps: Omit<JobsRoutesDeps, 'apiKeys'>): JobsApiPlugin {
  return {
    prefix: '/jobs',
    async register(app, context) {
      registerRoutes(app, { ...deps, apiKeys: [] }, '', '/status', { read: () => undefined, run: (request) => context.requireJobs(request) })
    },
  }
}
