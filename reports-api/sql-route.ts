import type { FastifyInstance } from 'fastify'
import { ColdpipeError } from '../core/errors.ts'
import type { ApiConfig } from './api-config.ts'
import type { QueryLimiter } from './query-limiter.ts'
import type { SnapshotPool } from './snapshot-pool.ts'
import { streamFormats } from './result-formats.ts'
import { sqlStreamFormat, streamSql } from './sql-stream.ts'
import { checkSqlSize, checkSqlText } from './sql-text-check.ts'
import type { WorkerResult } from './sql-worker/sql-worker-protocol.ts'
import type { SqlWorkerPool } from './sql-worker/sql-worker-pool.ts'
import type { StreamQuota } from './stream-quota.ts'

export { checkSqlText } from './sql-text-check.ts'

/** JSON escaping can make each byte of the statement up to six in the body (`\u0000`), plus the envelope. */
export function sqlBodyLimitBytes(config: ApiConfig): number {
  return config.sqlMaxStatementBytes * 6 + 1024
}

export interface SqlRouteDeps {
  pool: SnapshotPool
  limiter: QueryLimiter
  workers: SqlWorkerPool
  config: ApiConfig
  /** The per-key quota of streamed downloads, shared with report streams. */
  streamQuota: StreamQuota
  sqlAllowed: (callerSql: boolean) => void
}

export function registerSqlRoute(app: FastifyInstance, deps: SqlRouteDeps): void {
  const { config } = deps
  const activeStreams = new Set<AbortController>()
  // Before fastify waits for in-flight requests: a stream whose client stopped reading would never end by itself.
  app.addHook('preClose', async () => {
    for (const controller of activeStreams) controller.abort(new ColdpipeError('STREAM_ABORTED', 'the server is shutting down'))
  })
  app.post(
    '/sql',
    {
      bodyLimit: sqlBodyLimitBytes(config),
      // A body over the route's limit is a statement over the size limit: same code, same shape.
      errorHandler: (error, _request, reply) => {
        if ((error as { code?: string }).code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
          throw new ColdpipeError('SQL_TOO_LARGE', `the request body is over ${sqlBodyLimitBytes(config)} bytes; statements may be at most ${config.sqlMaxStatementBytes} bytes (api.sqlMaxStatementBytes)`, {
            context: { maxBytes: config.sqlMaxStatementBytes },
          })
        }
        throw error
      },
      schema: {
        summary: 'Run one read-only ad-hoc query on the current snapshot (sandboxed worker process; needs an API key with sql: true)',
        tags: ['sql'],
        body: {
          type: 'object',
          required: ['sql'],
          additionalProperties: false,
          properties: {
            sql: { type: 'string', minLength: 1, description: `One SELECT statement, at most api.sqlMaxStatementBytes (${config.sqlMaxStatementBytes}) bytes` },
            stream: {
              type: 'boolean',
              description:
                'true: the whole result (not capped by api.sqlMaxRows) streamed as CSV (default), NDJSON or Parquet; the row count follows in the x-coldpipe-rows trailer. Takes a stream slot of the key (api.maxStreamsPerKey) and an SQL worker; ends at api.streamTimeoutMs',
            },
            format: { type: 'string', enum: ['json', ...streamFormats], description: 'With stream: true, overrides the Accept header (json cannot be streamed: 406)' },
          },
        },
      },
    },
    async (request, reply) => {
      // The budget starts when the request arrives: queue wait, worker start and run all count.
      const deadline = Date.now() + config.sqlTimeoutMs
      deps.sqlAllowed(request.caller?.sql ?? false)
      const { sql, stream, format } = request.body as { sql: string; stream?: boolean; format?: string }
      checkSqlSize(sql, config.sqlMaxStatementBytes)
      checkSqlText(sql)
      if (stream) {
        const accept = request.headers.accept
        return streamSql({ ...deps, quota: deps.streamQuota, active: activeStreams }, request, reply, sql, sqlStreamFormat(format, Array.isArray(accept) ? accept.join(',') : accept))
      }
      if (format !== undefined && format !== 'json') {
        throw new ColdpipeError('REPORT_FORMAT_UNSUPPORTED', `format "${format}" needs stream: true; without it /sql answers JSON of at most api.sqlMaxRows rows`, {
          context: { param: 'format', got: format, expected: ['json'] },
        })
      }
      // A client that goes away cancels its query: out of the queue, or interrupted and if need be killed.
      const disconnected = new AbortController()
      const onClose = (): void => {
        if (!reply.raw.writableEnded) disconnected.abort(new ColdpipeError('REQUEST_ABORTED', 'the client closed the connection'))
      }
      reply.raw.once('close', onClose)
      const lease = await deps.pool.lease()
      try {
        const result = await new Promise<WorkerResult>((resolve, reject) => {
          deps.limiter
            .run(
              async () => {
                const job = deps.workers.start({
                  snapshotId: lease.manifest.id,
                  sql,
                  maxRows: config.sqlMaxRows,
                  maxResultBytes: config.sqlMaxResultBytes,
                  deadline,
                  timeoutMs: config.sqlTimeoutMs,
                  signal: disconnected.signal,
                })
                job.answer.then(resolve, reject)
                // The slot stays taken until the worker is idle again or killed, not just until the answer.
                await job.done
              },
              { deadline, signal: disconnected.signal },
            )
            .catch(reject)
        })
        reply.header('x-coldpipe-snapshot', String(lease.manifest.id))
        return {
          snapshot: { id: lease.manifest.id, publishedAt: lease.manifest.publishedAt },
          columns: result.columns,
          rows: result.rows,
          truncated: result.truncated,
          ...(result.truncatedBy ? { truncatedBy: result.truncatedBy } : {}),
          maxRows: config.sqlMaxRows,
          maxResultBytes: config.sqlMaxResultBytes,
        }
      } finally {
        reply.raw.off('close', onClose)
        lease.release()
      }
    },
  )
}
