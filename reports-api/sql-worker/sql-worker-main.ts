/**
 * Entry of a SQL worker process (started by SqlWorkerPool with child_process.fork): opens one snapshot
 * read-only in the sandbox and runs one ad-hoc query at a time. It lives in its own process so a query that
 * DuckDB's interrupt cannot stop (one huge value, the JS conversion of a result) can be ended with SIGKILL,
 * and its memory never counts against the server's.
 */
import { basename, dirname, sep } from 'node:path'
import { quoteLiteral, type Database } from '../../core/duckdb/index.ts'
import { ColdpipeError, isColdpipeError, messageOf } from '../../core/errors.ts'
import { SnapshotStore } from '../../warehouse/snapshot-store.ts'
import { sandboxSettings } from '../../warehouse/sql-sandbox.ts'
import type { StreamFormat } from '../result-formats.ts'
import { copyFormatOptions } from '../result-stream.ts'
import { classifySqlFailure } from './classify-sql-failure.ts'
import type { FromWorker, ToWorker, WorkerError, WorkerResult } from './sql-worker-protocol.ts'

let db: Database | undefined
let running: number | undefined
/** The private folder (made by the server, 0700) where the server's pipes for this worker's streams live. */
let streamDir: string | undefined

function send(message: FromWorker): void {
  process.send?.(message)
}

function asWorkerError(error: unknown): WorkerError {
  if (isColdpipeError(error)) return { code: error.code, message: error.message, context: error.context }
  return { code: 'INTERNAL', message: messageOf(error), context: {} }
}

function forbidden(kind: string, reason: string): ColdpipeError {
  return new ColdpipeError('SQL_FORBIDDEN', `${kind} statements are not allowed here: ${reason}`, { context: { statement: kind } })
}

/** Keeps whole rows while their JSON fits in `maxBytes`, so the server never receives more than that. */
function capBytes(rows: Record<string, unknown>[], maxBytes: number): { rows: Record<string, unknown>[]; cut: boolean } {
  let bytes = 2
  for (let i = 0; i < rows.length; i++) {
    bytes += Buffer.byteLength(JSON.stringify(rows[i])) + 1
    if (bytes > maxBytes) return { rows: rows.slice(0, i), cut: true }
  }
  return { rows, cut: false }
}

/** The sandbox's statement check: exactly one SELECT, by DuckDB's own parser (after the server's text check). */
async function checkStatement(database: Database, sql: string): Promise<void> {
  let info
  try {
    info = await database.inspectStatements(sql)
  } catch (error) {
    throw classifySqlFailure(error)
  }
  if (info.count > 1) throw forbidden('MULTIPLE', 'send one statement per request')
  if (info.count === 0) throw new ColdpipeError('SQL_INVALID', 'the SQL holds no statement', { context: {} })
  if (info.firstKind !== 'SELECT') throw forbidden(info.firstKind, 'ad-hoc SQL is read-only, one SELECT query')
}

async function runQuery(database: Database, sql: string, maxRows: number, maxResultBytes: number): Promise<WorkerResult> {
  await checkStatement(database, sql)
  let result
  try {
    result = await database.queryJsonUpTo(sql, maxRows)
  } catch (error) {
    throw classifySqlFailure(error)
  }
  const capped = capBytes(result.rows, maxResultBytes)
  const truncatedBy = capped.cut ? 'bytes' : result.truncated ? 'rows' : undefined
  return { columns: result.columns, rows: capped.rows, truncated: truncatedBy !== undefined, ...(truncatedBy ? { truncatedBy } : {}) }
}

/**
 * Streams the user's SELECT through DuckDB's writer into the server's pipe. The only statement that may write
 * is the one built here: the user's text was checked to be one SELECT on its own, a trailing `;` is dropped,
 * and the wrapped text is checked again to be one COPY, so no text can close the parentheses and pick
 * another target. The target must be a pipe name directly in this worker's private folder.
 */
async function runStream(database: Database, id: number, sql: string, format: StreamFormat, path: string): Promise<number> {
  if (!streamDir || dirname(path) !== streamDir || !/^[0-9a-f-]{36}\.(csv|ndjson|parquet)$/.test(basename(path))) {
    throw new ColdpipeError('INTERNAL', 'the stream target is not a pipe in this worker\'s folder', { context: { path } })
  }
  await checkStatement(database, sql)
  const body = sql.replace(/[\s;]+$/, '')
  const copy = `COPY (\n${body}\n) TO ${quoteLiteral(path)} (${copyFormatOptions(format)})`
  let info
  try {
    info = await database.inspectStatements(copy)
  } catch (error) {
    const failure = classifySqlFailure(error)
    // The statement was fine on its own: what breaks the wrapped form is a `;` with text (a comment) after it.
    if (failure.code !== 'SQL_INVALID') throw failure
    throw new ColdpipeError('SQL_INVALID', `the statement cannot be streamed as written; remove any text after its final ";" (${failure.message})`, { cause: error, context: {} })
  }
  if (info.count !== 1 || info.firstKind !== 'COPY') throw forbidden('MULTIPLE', 'the statement cannot be streamed as one query')
  send({ type: 'stream-checked', id })
  try {
    const [result] = await database.all<{ Count: bigint | number }>(copy)
    return Number(result?.Count ?? 0)
  } catch (error) {
    throw classifySqlFailure(error)
  }
}

async function onMessage(message: ToWorker): Promise<void> {
  if (message.type === 'open') {
    try {
      streamDir = message.streamDir
      // The private folder is allowed before external access is switched off and the configuration locked.
      const opened = await new SnapshotStore(message.warehouseDir).openReadOnly(message.snapshotId, {
        settings: sandboxSettings(message.memoryLimit),
        threads: message.threads,
        allowedDirectories: [`${streamDir}${sep}`],
      })
      db = opened.db
      send({ type: 'ready', snapshotId: message.snapshotId })
    } catch (error) {
      send({ type: 'open-failed', error: asWorkerError(error) })
      process.exit(1)
    }
  } else if (message.type === 'query') {
    if (!db || running !== undefined) {
      send({ type: 'error', id: message.id, error: { code: 'INTERNAL', message: 'SQL worker is not ready', context: {} } })
      return
    }
    running = message.id
    try {
      send({ type: 'result', id: message.id, result: await runQuery(db, message.sql, message.maxRows, message.maxResultBytes) })
    } catch (error) {
      send({ type: 'error', id: message.id, error: asWorkerError(error) })
    } finally {
      running = undefined
    }
  } else if (message.type === 'stream') {
    if (!db || running !== undefined) {
      send({ type: 'error', id: message.id, error: { code: 'INTERNAL', message: 'SQL worker is not ready', context: {} } })
      return
    }
    running = message.id
    try {
      send({ type: 'streamed', id: message.id, rows: await runStream(db, message.id, message.sql, message.format, message.path) })
    } catch (error) {
      send({ type: 'error', id: message.id, error: asWorkerError(error) })
    } finally {
      running = undefined
    }
  } else if (message.type === 'interrupt') {
    if (running === message.id) db?.interrupt()
  } else if (message.type === 'exit') {
    db?.close()
    process.exit(0)
  }
}

process.on('message', (message: ToWorker) => void onMessage(message))
// The server went away (crash, SIGKILL): a worker never outlives it.
process.on('disconnect', () => process.exit(0))
