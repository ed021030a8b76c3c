import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { AccessControl } from './access-control.ts'
import type { ReportCatalog } from './report-catalog.ts'
import type { ReportDefinition } from './report-definition.ts'
import { paramJsonSchema, paramRanges } from './report-params.ts'
import { wantsStream, type ReportRequest } from './report-request.ts'
import type { ReportService } from './report-service.ts'
import { formats } from './result-formats.ts'

/** A report as the catalog and /schema show it: parameters as JSON schemas (also what the web form is built from). */
export function describeReport(report: ReportDefinition): Record<string, unknown> {
  return {
    name: report.name,
    title: report.title,
    description: report.description ?? null,
    url: `/reports/${report.name}`,
    params: report.params.map((param) => ({ name: param.name, type: param.type, required: param.required, schema: paramJsonSchema(param) })),
    paramsSchema: {
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(report.params.map((param) => [param.name, paramJsonSchema(param)])),
      required: report.params.filter((param) => param.required).map((param) => param.name),
    },
    /** Parameter pairs whose `from` may not be after their `to` (the API refuses a reversed range). */
    ranges: paramRanges(report),
    columns: report.columns ?? null,
    chart: report.chart ?? null,
    maxStalenessSeconds: report.maxStalenessSeconds ?? null,
    formats,
  }
}

const nameParams = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', pattern: '^[a-z][a-z0-9_]*$', description: 'Report name' } },
} as const

/** The report route's own query parameters (the rest are the report's); the cache-hit fast path reads the same list. */
export const reservedQuery = {
  type: 'object',
  additionalProperties: true,
  properties: {
    format: { type: 'string', description: `Overrides the Accept header: ${formats.join(', ')}` },
    limit: { type: 'string', description: 'Rows per page (JSON default 1000; at most api.maxRows)' },
    offset: { type: 'string', description: 'Rows to skip' },
    sort: { type: 'string', description: 'A declared column; prefix - for descending' },
    asOf: { type: 'string', description: 'ISO time: answer from the newest snapshot published at or before it' },
    acceptStale: { type: 'string', description: 'true: answer even when sources are staler than the report allows' },
    stream: {
      type: 'string',
      description: 'true: the whole result (not a page; limit optional) streamed as CSV (default), NDJSON or Parquet; the row count follows in the x-coldpipe-rows trailer',
    },
  },
} as const

export function registerReportRoutes(
  app: FastifyInstance,
  deps: {
    catalog: ReportCatalog
    service: ReportService
    access: AccessControl
    canRunSql?: (callerSql: boolean) => boolean
    /** Whether the cache-hit fast path already found this request not cached (cache-hit-fast-path.ts). */
    notCached?: (request: FastifyRequest) => boolean
  },
): void {
  const streamReport = async (request: FastifyRequest, reply: FastifyReply, reportRequest: ReportRequest): Promise<FastifyReply> => {
    const streamed = await deps.service.stream(reportRequest, request.caller?.bucket ?? `ip:${request.ip}`)
    // Chunked with a trailer: the count is known only at the end; a cut response (no trailer) is incomplete.
    reply.headers(streamed.headers).status(200)
    reply.trailer('x-coldpipe-rows', async () => String(await streamed.rows))
    streamed.rows.catch((error: unknown) => request.log.warn({ err: error, report: reportRequest.name }, 'streamed download stopped before its end'))
    return reply.send(streamed.body)
  }
  const runReport = async (reply: FastifyReply, reportRequest: ReportRequest): Promise<FastifyReply> => {
    const result = await deps.service.run(reportRequest)
    reply.headers(result.headers).status(result.status)
    return reply.send(result.body ?? '')
  }
  // Before fastify waits for in-flight requests: a download whose client stopped reading would never end by itself.
  app.addHook('preClose', async () => deps.service.abortStreams())
  app.get('/reports', { schema: { summary: 'The report catalog with parameter schemas', tags: ['reports'] } }, async (request) => {
    const { reports, problems } = await deps.catalog.list()
    const caller = request.caller!
    return {
      reports: reports.filter((report) => deps.access.canRunReport(caller, report.name)).map(describeReport),
      invalid: problems.map((problem) => ({ file: problem.file.slice(problem.file.lastIndexOf('/') + 1), code: problem.code, message: problem.message })),
      // Whether this caller may use POST /sql and GET /sql/schema (the page shows its SQL editor only then).
      sql: deps.canRunSql?.(caller.sql) ?? false,
    }
  })

  app.get(
    '/reports/:name/schema',
    { schema: { summary: "A report's parameters, columns and chart", tags: ['reports'], params: nameParams } },
    async (request) => {
      const { name } = request.params as { name: string }
      deps.access.assertReport(request.caller!, name)
      return describeReport(await deps.catalog.get(name))
    },
  )

  app.get(
    '/reports/:name',
    {
      schema: {
        summary: 'Run a report (JSON, CSV, NDJSON or Parquet by Accept or ?format=); report parameters go in the query string',
        tags: ['reports'],
        params: nameParams,
        querystring: reservedQuery,
      },
    },
    // Not async: a cache hit is answered without a promise (see ReportService.cachedReply); the rest is.
    (request, reply) => {
      const { name } = request.params as { name: string }
      deps.access.assertReport(request.caller!, name)
      const header = (key: string): string | undefined => {
        const value = request.headers[key]
        return Array.isArray(value) ? value.join(',') : value
      }
      const reportRequest = {
        name,
        query: request.query as Record<string, unknown>,
        accept: header('accept'),
        ifNoneMatch: header('if-none-match'),
        acceptStaleHeader: header('x-coldpipe-accept-stale'),
      }
      if (wantsStream(reportRequest.query)) return streamReport(request, reply, reportRequest)
      const hit = deps.notCached?.(request) ? undefined : deps.service.cachedReply(reportRequest)
      if (hit) {
        reply.headers(hit.headers).status(hit.status)
        reply.send(hit.body ?? '')
        return
      }
      return runReport(reply, reportRequest)
    },
  )
}
