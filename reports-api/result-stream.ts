/**
 * Streams the whole result of one query into a Node Writable (an HTTP response, a pipe to a parent process)
 * with bounded memory and back-pressure.
 *
 * Contract of `streamQuery(db, sql, params, format, sink, options)`:
 * - `sql` is ONE query whose rows are the result (a SELECT/VALUES/...; no trailing `;`). It is wrapped as
 *   `COPY (\n<sql>\n) TO …` or run as a streaming result, so it must be valid as a subquery.
 * - Writes CSV (header line first), NDJSON (one object a line) or Parquet bytes to `sink`; never ends or
 *   destroys it, so the caller can add trailers (`x-coldpipe-rows`) and end it, or report the count otherwise.
 * - Resolves `{ rows, writer }` once every byte was handed to `sink`.
 * - Rejects when the query fails (the database's coded error), or with STREAM_ABORTED when `options.signal`
 *   aborts or `sink` closes/errors first (the client went away). Either way the DuckDB query is interrupted and
 *   the connection is free again when the promise settles; a caller holding a slot releases it then.
 * - Works on any Database connection. Writer `duckdb` (DuckDB's own CSV/JSON/Parquet writer, `COPY … TO` a
 *   named pipe in `streamPipeDirectory()`) is used when the instance may write there: external access on,
 *   or the directory in its `allowed_directories`. Otherwise writer `chunks` (DuckDB's chunked streaming
 *   result, encoded in JS chunk by chunk): CSV and NDJSON only; Parquet then fails with
 *   REPORT_FORMAT_UNSUPPORTED before anything is written.
 * `streamThroughFifo` is the pipe half alone, for a COPY that runs in another process (a /sql worker).
 * Back-pressure: `duckdb` reads the pipe only while `sink` accepts data, so DuckDB blocks on a full pipe
 * (1 MiB, see widenPipe); `chunks` pulls the next chunk only after `sink` drained.
 */
import { spawn, spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join, sep } from 'node:path'
import type { Writable } from 'node:stream'
import { quoteLiteral, type Database, type SqlParams } from '../core/duckdb/index.ts'
import { ColdpipeError, isColdpipeError, messageOf } from '../core/errors.ts'
import { encodeCsvRows, encodeNdjsonRows, type StreamFormat } from './result-formats.ts'

export type StreamWriter = 'duckdb' | 'chunks'

export interface StreamQueryOptions {
  /** Aborting interrupts the query; the promise rejects with the reason if it is a ColdpipeError, else STREAM_ABORTED. */
  signal?: AbortSignal
  /** Forces a writer; by default `duckdb` when the instance may write to the pipe directory, else `chunks`. */
  writer?: StreamWriter
}

export interface StreamOutcome {
  rows: number
  writer: StreamWriter
}

let pipeDirectory: string | undefined

/**
 * The private (0700) folder this process makes its named pipes in. A DuckDB instance whose external access is
 * off must list it in `allowed_directories` to stream through its own writers.
 */
export function streamPipeDirectory(): string {
  if (!pipeDirectory) {
    const dir = mkdtempSync(join(tmpdir(), 'coldpipe-streams-'))
    pipeDirectory = dir
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
  }
  return `${pipeDirectory}${sep}`
}

/**
 * How the snapshot pool opens the instance that serves streamed downloads: DuckDB's writers may use the pipe
 * folder, memory is capped (DuckDB's ordered COPY otherwise buffers ahead of a slow client up to 80 % of RAM),
 * and insertion order is not preserved, so COPY writes as it scans. A query's ORDER BY is still honoured
 * (DuckDB keeps a fixed order whatever this setting); only rows of an unordered query may come in another order.
 */
export function streamInstanceOptions(memoryLimit?: string): { memoryLimit?: string; settings: Record<string, string>; allowedDirectories: string[] } {
  return {
    ...(memoryLimit ? { memoryLimit } : {}),
    settings: { preserve_insertion_order: 'false' },
    allowedDirectories: [streamPipeDirectory()],
  }
}

function aborted(reason: unknown): ColdpipeError {
  if (isColdpipeError(reason)) return reason
  return new ColdpipeError('STREAM_ABORTED', 'the stream was stopped before the result was complete (the client went away)', {
    ...(reason === undefined ? {} : { cause: reason }),
  })
}

/** Whether DuckDB may write into the pipe directory (read from the instance, so it follows the sandbox in force). */
async function canWritePipes(db: Database): Promise<boolean> {
  const [setting] = await db.all<{ external: boolean | string; allowed: string[] | null }>(
    "SELECT current_setting('enable_external_access') AS external, current_setting('allowed_directories') AS allowed",
  )
  if (!setting) return false
  if (String(setting.external) === 'true') return true
  const dir = streamPipeDirectory()
  return (setting.allowed ?? []).some((allowed) => dir.startsWith(allowed.endsWith(sep) ? allowed : `${allowed}${sep}`))
}

export async function streamQuery(
  db: Database,
  sql: string,
  params: SqlParams | undefined,
  format: StreamFormat,
  sink: Writable,
  options: StreamQueryOptions = {},
): Promise<StreamOutcome> {
  options.signal?.throwIfAborted()
  const writer = options.writer ?? ((await canWritePipes(db)) ? 'duckdb' : 'chunks')
  if (writer === 'chunks' && format === 'parquet') {
    throw new ColdpipeError('REPORT_FORMAT_UNSUPPORTED', 'streaming Parquet needs DuckDB\'s own writer, which this database may not use here; use csv or ndjson', {
      context: { format, writer },
    })
  }
  const watch = watchAbort(sink, options.signal, () => db.interrupt())
  try {
    const rows = writer === 'duckdb' ? await copyThroughPipe(db, sql, params, format, sink, watch) : await encodeChunks(db, sql, params, format, sink, watch)
    watch.check()
    return { rows, writer }
  } catch (error) {
    if (watch.reason !== undefined) throw watch.reason
    throw error
  } finally {
    watch.dispose()
  }
}

interface AbortWatch {
  /** Set once the stream must stop: the caller aborted or the sink went away. */
  reason: ColdpipeError | undefined
  onAbort(listener: () => void): void
  check(): void
  dispose(): void
}

function watchAbort(sink: Writable, signal: AbortSignal | undefined, interrupt: () => void): AbortWatch {
  const listeners: (() => void)[] = []
  const watch: AbortWatch = {
    reason: undefined,
    onAbort: (listener) => {
      if (watch.reason !== undefined) listener()
      else listeners.push(listener)
    },
    check: () => {
      if (watch.reason !== undefined) throw watch.reason
    },
    dispose: () => {
      signal?.removeEventListener('abort', onSignal)
      sink.off('close', onSinkGone)
      sink.off('error', onSinkGone)
    },
  }
  const stop = (reason: ColdpipeError): void => {
    if (watch.reason !== undefined) return
    watch.reason = reason
    interrupt()
    for (const listener of listeners.splice(0)) listener()
  }
  const onSignal = (): void => stop(aborted(signal?.reason))
  const onSinkGone = (error?: unknown): void => stop(aborted(error))
  signal?.addEventListener('abort', onSignal, { once: true })
  sink.on('close', onSinkGone)
  sink.on('error', onSinkGone)
  if (sink.destroyed) onSinkGone()
  return watch
}

const copyOptions: Record<StreamFormat, string> = {
  csv: 'FORMAT csv, HEADER true',
  ndjson: 'FORMAT json',
  parquet: 'FORMAT parquet',
}

/**
 * DuckDB writes into a named pipe; we read it only while the sink accepts data. We hold a write end of the
 * pipe ourselves until COPY returns, so end of file means "DuckDB is done", never "DuckDB has not opened it yet".
 */
async function copyThroughPipe(db: Database, sql: string, params: SqlParams | undefined, format: StreamFormat, sink: Writable, watch: AbortWatch): Promise<number> {
  return pipeFifo(streamPipeDirectory(), format, sink, watch, async (path) => {
    const [result] = await db.all<{ Count: bigint | number }>(`COPY (\n${sql}\n) TO ${quoteLiteral(path)} (${copyOptions[format]}, USE_TMP_FILE false)`, params)
    return Number(result?.Count ?? 0)
  })
}

/** The COPY options of each streamed format (DuckDB's own writers). */
export function copyFormatOptions(format: StreamFormat): string {
  return `${copyOptions[format]}, USE_TMP_FILE false`
}

export interface FifoStreamOptions {
  /** The folder the pipe is made in (0700, and in the writing DuckDB's allowed_directories). */
  dir: string
  format: StreamFormat
  sink: Writable
  signal?: AbortSignal
  /** Called once when the stream must stop (abort or sink gone): stop the writer, e.g. interrupt its query. */
  onStop: () => void
  /** Runs `COPY … TO path` somewhere (this process or another one) and resolves with its row count. */
  copy: (path: string) => Promise<number>
}

/**
 * The pipe half of a DuckDB stream for a writer that runs elsewhere (a SQL worker process): makes a fifo in
 * `dir`, lets `copy` write the result into it and hands it to `sink` with back-pressure. Same contract as
 * streamQuery: never ends `sink`, rejects with STREAM_ABORTED (or the signal's ColdpipeError) when stopped.
 */
export async function streamThroughFifo(options: FifoStreamOptions): Promise<number> {
  options.signal?.throwIfAborted()
  const watch = watchAbort(options.sink, options.signal, options.onStop)
  try {
    const rows = await pipeFifo(options.dir, options.format, options.sink, watch, options.copy)
    watch.check()
    return rows
  } catch (error) {
    if (watch.reason !== undefined) throw watch.reason
    throw error
  } finally {
    watch.dispose()
  }
}

async function pipeFifo(dir: string, format: StreamFormat, sink: Writable, watch: AbortWatch, copy: (path: string) => Promise<number>): Promise<number> {
  const path = join(dir, `${randomUUID()}.${format}`)
  const made = spawnSync('mkfifo', ['-m', '600', path], { encoding: 'utf8' })
  if (made.status !== 0) {
    throw new ColdpipeError('INTERNAL', `cannot create a named pipe for streaming: ${made.stderr || made.error?.message || `mkfifo exited ${made.status}`}`, { context: { path } })
  }
  let keepOpen: number | undefined
  let source: Socket | undefined
  const closeKeep = (): void => {
    if (keepOpen === undefined) return
    closeSync(keepOpen)
    keepOpen = undefined
  }
  try {
    // Non-blocking opens: a blocking open of a FIFO would hold a libuv thread until DuckDB opened the other end.
    const readEnd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK)
    keepOpen = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK)
    widenPipe(readEnd)
    source = new Socket({ fd: readEnd, readable: true, writable: false })
    const reader = source
    const drained = new Promise<void>((resolve, reject) => {
      reader.on('data', (chunk: Buffer) => {
        if (watch.reason !== undefined) return
        if (!sink.write(chunk)) {
          reader.pause()
          sink.once('drain', () => reader.resume())
        }
      })
      reader.once('end', resolve)
      reader.once('error', reject)
      // A destroyed reader (abort) closes the pipe: DuckDB's next write fails instead of blocking forever.
      reader.once('close', () => reject(watch.reason ?? aborted(undefined)))
    })
    drained.catch(() => undefined)
    watch.onAbort(() => {
      reader.destroy()
      closeKeep()
    })
    let count: number
    try {
      count = await copy(path)
    } finally {
      closeKeep()
    }
    await drained
    return count
  } catch (error) {
    source?.destroy()
    throw error
  } finally {
    closeKeep()
    await rm(path, { force: true }).catch(() => undefined)
  }
}

/**
 * A Linux pipe holds 64 KiB: DuckDB blocks on each 64 KiB write until Node has read it, so its thread and
 * Node's hand the CPU to each other about 10,000 times per 600 MB of CSV (32,000 context switches per
 * 10 M rows, measured). With 1 MiB (the unprivileged maximum, /proc/sys/fs/pipe-max-size) DuckDB writes
 * ahead while Node sends: 13,000 switches and about 1 CPU-s (a fifth of the server's work) less per 10 M rows
 * (docs/benchmarks.md). Node has no fcntl, so perl (perl-base is essential in Debian/Ubuntu, node:20-slim too) sets
 * F_SETPIPE_SZ through its stdin, a copy of our read end. Not awaited: the size may change while DuckDB
 * writes. Where it cannot (no perl, the per-user pipe quota used up) the pipe keeps 64 KiB: slower, not wrong.
 */
const pipeBytes = 1024 * 1024
const setPipeSize = 1031 // F_SETPIPE_SZ, linux/fcntl.h

function widenPipe(fd: number): void {
  if (process.platform !== 'linux') return
  try {
    const child = spawn('perl', ['-e', `fcntl(STDIN, ${setPipeSize}, ${pipeBytes}) or exit 1`], { stdio: [fd, 'ignore', 'ignore'] })
    child.once('error', () => undefined)
  } catch {
    // spawn itself failed (e.g. out of processes): keep the default size.
  }
}

/** Bytes gathered before a write: one write per ~64 KiB instead of one per DuckDB chunk. */
const batchBytes = 64 * 1024

async function encodeChunks(db: Database, sql: string, params: SqlParams | undefined, format: StreamFormat, sink: Writable, watch: AbortWatch): Promise<number> {
  const stream = await db.streamJson(sql, params)
  const names = stream.columns.map((column) => column.name)
  let pending = format === 'csv' ? encodeCsvRows([names]) : ''
  let rows = 0
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return
    watch.check()
    const ok = sink.write(pending)
    pending = ''
    if (!ok) await drain(sink, watch)
  }
  for await (const chunk of stream.chunks) {
    watch.check()
    pending += format === 'csv' ? encodeCsvRows(chunk) : encodeNdjsonRows(names, chunk)
    rows += chunk.length
    if (pending.length >= batchBytes) await flush()
  }
  await flush()
  return rows
}

function drain(sink: Writable, watch: AbortWatch): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (): void => {
      sink.off('drain', done)
      if (watch.reason !== undefined) reject(watch.reason)
      else resolve()
    }
    sink.once('drain', done)
    watch.onAbort(done)
  })
}

/** For logs: what went wrong in a stream, as text. */
export function streamFailure(error: unknown): string {
  return isColdpipeError(error) ? `${error.code}: ${error.message}` : messageOf(error)
}
