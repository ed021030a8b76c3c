import { PassThrough } from 'node:stream'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { ColdpipeError } from '../core/errors.ts'
import type { ApiConfig } from './api-config.ts'
import type { QueryLimiter } from './query-limiter.ts'
import { contentTypes, negotiateFormat, streamFormats, type StreamFormat } from './result-formats.ts'
import { streamFailure, streamThroughFifo } from './result-stream.ts'
import type { SnapshotPool } from './snapshot-pool.ts'
import type { SqlWorkerPool } from './sql-worker/sql-worker-pool.ts'
import type { StreamQuota } from './stream-quota.ts'

export interface SqlStreamDeps {
  pool: SnapshotPool
  limiter: QueryLimiter
  workers: SqlWorkerPool
  config: ApiConfig
  quota: StreamQuota
  /** Running streams' stop switches, so shutdown does not wait for a client that stopped reading. */
  active: Set<AbortController>
}

/**
 * The format of a streamed /sql result: `format` in the body wins, else the Accept header; CSV when neither
 * names one (or only a wildcard would pick JSON). JSON cannot be streamed: 406, as for reports.
 */
export function sqlStreamFormat(format: string | undefined, accept: string | undefined): StreamFormat {
  const askedJson = format !== undefined || /application\/json/i.test(accept ?? '')
  const negotiated = format !== undefined ? negotiateFormat(format, accept) : accept === undefined || accept.trim() === '' ? 'csv' : negotiateFormat(undefined, accept)
  const picked = negotiated === 'json' && !askedJson ? 'csv' : negotiated
  if (!(streamFormats as readonly string[]).includes(picked)) {
    throw new ColdpipeError('REPORT_FORMAT_UNSUPPORTED', `stream: true sends the whole result as ${streamFormats.join(', ')}; JSON answers are capped at api.sqlMaxRows rows`, {
      context: { param: 'format', got: picked, expected: streamFormats },
    })
  }
  return picked as StreamFormat
}

/**
 * `POST /sql` with `stream: true`: the whole result of the (already text-checked) statement, written by the
 * worker's DuckDB into a pipe in the worker's private folder and copied into the response with back-pressure.
 * A stream takes a stream slot of the caller's key (429 past api.maxStreamsPerKey) and one SQL slot (a worker)
 * for its whole length; it is cut by api.streamTimeoutMs, not sqlTimeoutMs. Errors found before COPY starts
 * (quota, queue, the worker's statement checks) answer with their status; later failures cut the response.
 */
export async function streamSql(deps: SqlStreamDeps, request: FastifyRequest, reply: FastifyReply, sql: string, format: StreamFormat): Promise<FastifyReply> {
  const { config } = deps
  const arrived = Date.now()
  const releaseQuota = deps.quota.acquire(request.caller?.bucket ?? `ip:${request.ip}`)
  const stop = new AbortController()
  const onClose = (): void => {
    if (!reply.raw.writableEnded) stop.abort(new ColdpipeError('STREAM_ABORTED', 'the client closed the connection; the stream was stopped'))
  }
  reply.raw.once('close', onClose)
  const timer = setTimeout(
    () => stop.abort(new ColdpipeError('SQL_TIMEOUT', `the streamed result ran longer than ${config.streamTimeoutMs} ms (api.streamTimeoutMs) and was stopped`, { context: { timeoutMs: config.streamTimeoutMs } })),
    config.streamTimeoutMs,
  )
  deps.active.add(stop)
  let lease: Awaited<ReturnType<SnapshotPool['lease']>> | undefined
  const finish = (): void => {
    clearTimeout(timer)
    deps.active.delete(stop)
    reply.raw.off('close', onClose)
    releaseQuota()
    lease?.release()
  }
  try {
    lease = await deps.pool.lease()
    const snapshotId = lease.manifest.id
    const body = new PassThrough()
    let markChecked: () => void = () => undefined
    const checked = new Promise<void>((resolve) => (markChecked = resolve))
    const rows = new Promise<number>((resolve, reject) => {
      deps.limiter
        .run(
          async () => {
            const job = deps.workers.startTask({ snapshotId, deadline: arrived + config.streamTimeoutMs, timeoutMs: config.streamTimeoutMs, signal: stop.signal }, (worker) =>
              streamThroughFifo({
                dir: worker.streamDir,
                format,
                sink: body,
                signal: stop.signal,
                // The pool interrupts (then kills) the worker on the same signal; the pipe is closed here.
                onStop: () => undefined,
                copy: (path) => worker.stream(sql, format, path, markChecked),
              }),
            )
            job.answer.then(resolve, reject)
            // The SQL slot stays taken until the worker is idle again or killed, not just until the answer.
            await job.done
          },
          // Waiting for a worker is bounded like an interactive query's wait; the stream itself is not.
          { deadline: arrived + config.sqlTimeoutMs, signal: stop.signal },
        )
        .catch(reject)
    })
    rows.catch(() => undefined)
    await Promise.race([checked, rows])
    const counted = rows.then(
      (count) => {
        body.end()
        return count
      },
      (error: unknown) => {
        request.log.warn({ err: error }, 'streamed /sql result stopped before its end')
        body.destroy(error instanceof Error ? error : new Error(streamFailure(error)))
        throw error
      },
    )
    counted.catch(() => undefined).finally(finish)
    reply.headers({
      'content-type': contentTypes[format],
      'content-disposition': `attachment; filename="query.${format}"`,
      'cache-control': 'no-store',
      'x-coldpipe-snapshot': String(snapshotId),
    })
    reply.status(200)
    // Chunked with a trailer: the count is known only at the end; a cut response (no trailer) is incomplete.
    reply.trailer('x-coldpipe-rows', async () => String(await counted))
    return reply.send(body)
  } catch (error) {
    stop.abort(new ColdpipeError('STREAM_ABORTED', 'the stream did not start'))
    finish()
    throw error
  }
}
