import Table from 'cli-table3'
import { quoteIdent, type Database, type QueryResult } from '../core/duckdb/index.ts'
import { ColdpipeError } from '../core/errors.ts'
import { SnapshotStore } from './snapshot-store.ts'

export type SqlOutputFormat = 'table' | 'csv' | 'json'

/** Opens the current (or a chosen) snapshot read-only for ad-hoc SQL. */
export async function openSnapshotForSql(warehousePath: string, snapshot?: number, options: { memoryLimit?: string; threads?: number } = {}): Promise<Database> {
  const { db } = await new SnapshotStore(warehousePath).openReadOnly(snapshot, options)
  return db
}

/** Statement kinds that write; on a snapshot's views DuckDB refuses them with a binder error, not a read-only one. */
const writeKinds = new Set(['INSERT', 'UPDATE', 'DELETE', 'CREATE', 'CREATE_FUNC', 'DROP', 'ALTER', 'TRUNCATE'])

/** DuckDB names a statement's kind only once it binds, and a write on a view does not bind: the lead keyword then. */
async function isWrite(db: Database, sql: string): Promise<boolean> {
  const info = await db.inspectStatements(sql).catch(() => undefined)
  if (info) return writeKinds.has(info.firstKind)
  const lead = /^(?:\s|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*([A-Za-z_]+)/.exec(sql)?.[1]?.toUpperCase()
  return lead !== undefined && writeKinds.has(lead)
}

/** Runs one query on a read-only snapshot; writes fail with WAREHOUSE_READ_ONLY. */
export async function runSql(db: Database, sql: string): Promise<QueryResult> {
  try {
    return await db.queryJson(sql)
  } catch (error) {
    if (error instanceof ColdpipeError && db.readOnly && error.code !== 'WAREHOUSE_READ_ONLY' && (/read-only|read only/i.test(error.message) || (await isWrite(db, sql)))) {
      throw new ColdpipeError('WAREHOUSE_READ_ONLY', `snapshots are read-only: ${error.message}`, { cause: error })
    }
    throw error
  }
}

function text(value: unknown): string {
  if (value === null || value === undefined) return ''
  return typeof value === 'object' ? JSON.stringify(value) : String(value)
}

function csvCell(value: unknown): string {
  const s = text(value)
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

export function formatResult(result: QueryResult, format: SqlOutputFormat): string {
  const names = result.columns.map((c) => c.name)
  if (format === 'json') return `${JSON.stringify(result.rows, null, 2)}\n`
  if (format === 'csv') return `${[names.map(csvCell).join(','), ...result.rows.map((r) => names.map((n) => csvCell(r[n])).join(','))].join('\n')}\n`
  if (names.length === 0) return 'OK\n'
  const table = new Table({ head: names, style: { head: [], border: [] }, chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' } })
  for (const row of result.rows) table.push(names.map((n) => (row[n] === null ? 'NULL' : text(row[n]))))
  return `${table.toString()}\n(${result.rows.length} row${result.rows.length === 1 ? '' : 's'})\n`
}

/** Dot commands of the prompt: `.tables`, `.schema <table>`. Returns SQL to run, or undefined. */
export function dotCommandSql(line: string): string | undefined {
  const [cmd, arg] = line.trim().split(/\s+/, 2)
  if (cmd === '.tables') {
    return `SELECT table_schema AS schema, table_name AS name, table_type AS type FROM information_schema.tables WHERE table_schema NOT IN ('_cp_state', 'information_schema', 'pg_catalog') ORDER BY 1, 2`
  }
  if (cmd === '.schema' && arg) {
    const parts = arg.split('.')
    const table = parts.pop()!
    const schema = parts[0]
    return `SELECT column_name AS column, data_type AS type, is_nullable AS nullable FROM information_schema.columns WHERE table_name = ${`'${table.replace(/'/g, "''")}'`}${schema ? ` AND table_schema = '${schema.replace(/'/g, "''")}'` : ''} ORDER BY ordinal_position`
  }
  return undefined
}

export { quoteIdent }
