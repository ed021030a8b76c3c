import type { Database, QueryResult, RowStream } from '../core/duckdb/index.ts'
import { ColdpipeError } from '../core/errors.ts'
import { SnapshotStore } from './snapshot-store.ts'
import { classifySqlError, splitStatements } from './sql-sandbox.ts'

export interface SqlSessionOptions {
  memoryLimit?: string
  threads?: number
  /** Lets statements read and write local files (`--allow-local-files`); the rest of the sandbox stays. */
  localFiles?: boolean
}

/** Opens the current (or a chosen) snapshot read-only and sandboxed for ad-hoc SQL. */
export async function openSnapshotForSql(warehousePath: string, snapshot?: number, options: SqlSessionOptions = {}): Promise<Database> {
  const { db } = await new SnapshotStore(warehousePath).openReadOnly(snapshot, options)
  return db
}

/** Statement kinds that write; on a snapshot's views DuckDB refuses them with a binder error, not a read-only one. */
const writeKinds = new Set(['INSERT', 'UPDATE', 'DELETE', 'CREATE', 'CREATE_FUNC', 'DROP', 'ALTER', 'TRUNCATE'])

/** DuckDB's wording for a write on one of a snapshot's views (they fail to bind rather than hit read-only mode). */
const writeOnView = /Can only (delete from|update) base table|is not an table/

/** Extensions would download code (INSTALL) or load it (LOAD): refused even when local files are allowed. */
const extensionKinds = new Set(['LOAD', 'UPDATE_EXTENSIONS'])

/** DuckDB names a statement's kind only once it binds, and a write on a view does not bind: the lead keyword then. */
async function isWrite(db: Database, sql: string): Promise<boolean> {
  const info = await db.inspectStatements(sql).catch(() => undefined)
  if (info) return writeKinds.has(info.firstKind)
  const lead = /^(?:\s|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*([A-Za-z_]+)/.exec(sql)?.[1]?.toUpperCase()
  return lead !== undefined && writeKinds.has(lead)
}

/** A failed statement as the caller sees it: sandbox refusals SQL_FORBIDDEN, writes WAREHOUSE_READ_ONLY. */
function readerError(db: Database, error: unknown): ColdpipeError {
  const classified = classifySqlError(error)
  if (db.readOnly && classified.code !== 'SQL_FORBIDDEN' && classified.code !== 'WAREHOUSE_READ_ONLY' && writeOnView.test(classified.message)) {
    return new ColdpipeError('WAREHOUSE_READ_ONLY', `snapshots are read-only: ${classified.message}`, { cause: error })
  }
  return classified
}

/** Runs one query on a read-only snapshot; writes fail with WAREHOUSE_READ_ONLY, sandbox refusals with SQL_FORBIDDEN. */
export async function runSql(db: Database, sql: string): Promise<QueryResult> {
  try {
    return await db.queryJson(sql)
  } catch (error) {
    throw await singleStatementError(db, sql, error)
  }
}

/**
 * Runs every statement of `sql` in order, as DuckDB's own CLI does, handing each result to `onResult` as a
 * stream when its statement starts producing rows; the statement is done when `onResult` settles (a reader
 * that stops pulling chunks stops the query). The first failure stops the rest; its error says which statement
 * (1-based) of how many failed. Returns how many statements ran.
 */
export async function runStatements(db: Database, sql: string, onResult: (result: RowStream, index: number, count: number) => Promise<void> | void): Promise<number> {
  const statements = await splitStatements(db, sql).catch((error: unknown) => Promise.reject(readerError(db, error)))
  for (let index = 0; index < statements.count; index++) {
    try {
      const prepared = await statements.prepare(index)
      try {
        if (extensionKinds.has(prepared.kind)) {
          throw new ColdpipeError('SQL_FORBIDDEN', 'refused by the sandbox: extensions are never installed or loaded by coldpipe sql', { context: { statement: prepared.kind } })
        }
        await onResult(await prepared.streamJson(), index, statements.count)
      } finally {
        prepared.close()
      }
    } catch (error) {
      const failed = statements.count === 1 ? await singleStatementError(db, sql, error) : readerError(db, error)
      if (statements.count === 1) throw failed
      const rest = statements.count - index - 1
      throw new ColdpipeError(failed.code, `statement ${index + 1} of ${statements.count} failed${rest > 0 ? ` (${rest} not run)` : ''}: ${failed.message}`, {
        cause: error,
        context: { ...failed.context, statement: index + 1, statements: statements.count },
      })
    }
  }
  return statements.count
}

async function singleStatementError(db: Database, sql: string, error: unknown): Promise<ColdpipeError> {
  const classified = readerError(db, error)
  if (db.readOnly && classified.code !== 'SQL_FORBIDDEN' && classified.code !== 'WAREHOUSE_READ_ONLY' && (await isWrite(db, sql))) {
    return new ColdpipeError('WAREHOUSE_READ_ONLY', `snapshots are read-only: ${classified.message}`, { cause: error })
  }
  return classified
}
