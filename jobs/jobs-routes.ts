import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { formatPath } from '../core/config/index.ts'
import { ColdpipeError } from '../core/errors.ts'
import type { Scheduler } from './scheduler.ts'
import type { StatusReport } from './status.ts'

export interface JobsRoutesDeps {
  scheduler: Pick<Scheduler, 'list' | 'history' | 'start' | 'job'>
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

/**
 * The routes, relative to where they are mounted: `/` lists, `/:id/runs`, `/:id/run`, `/status`. Reads
 * pass the API's own key check; a run also needs `requireJobs` (which returns the caller for the log).
 */
function registerRoutes(app: FastifyInstance, deps: JobsRoutesDeps, requireJobs: (request: FastifyRequest) => { name: string }): void {
  app.get('/', async () => ({ jobs: await deps.scheduler.list() }))

  app.get<{ Params: { id: string }; Querystring: { limit?: string } }>('/:id/runs', async (request) => {
    const limit = request.query.limit === undefined ? 50 : Number(request.query.limit)
    if (!Number.isInteger(limit) || limit < 1) {
      throw new ColdpipeError('REQUEST_INVALID', `query parameter limit must be a positive integer (got ${JSON.stringify(request.query.limit)})`, { context: { path: 'limit' } })
    }
    return { job: request.params.id, runs: await deps.scheduler.history(request.params.id, limit) }
  })

  app.post<{ Params: { id: string } }>('/:id/run', async (request, reply) => {
    const caller = requireJobs(request)
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

  app.get('/status', async () => {
    if (!deps.status) throw new ColdpipeError('ROUTE_NOT_FOUND', 'status is not available in this process')
    return deps.status()
  })
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
export function jobsApiPlugin(deps: JobsRoutesDeps): JobsApiPlugin {
  return {
    prefix: '/jobs',
    async register(app, context) {
      registerRoutes(app, deps, (request) => context.requireJobs(request))
    },
  }
}
