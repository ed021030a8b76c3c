import { randomUUID } from 'node:crypto'
import { mkdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { quoteIdent, quoteLiteral, type Database } from '../core/duckdb/index.ts'
import { fsyncPath } from '../lake/index.ts'
import { keyMatch, liveRowPredicate, type MergeKind } from '../transform/merge/index.ts'

/**
 * One source table as immutable Parquet files in `<warehouse>/tables/`, written by the publish that last
 * changed it. A snapshot's DuckDB file holds only views over these files (and the read models), so a
 * publish writes the tables that changed and merely re-points the views of the others.
 */
export interface TableFiles {
  service: string
  table: string
  kind: MergeKind
  key: string[]
  /**
   * Latest version per key with `_cp_*` columns and tombstones, as of when it was last folded; relative to the
   * warehouse folder. With `delta`, the current state is this file's rows whose key is not in the delta, plus
   * the delta (merge-on-read), so a publish of a few changed rows writes a file the size of the change.
   */
  state: string
  /** Rows of the `state` file, tombstones included (decides when the delta is folded in). */
  stateRows?: number
  /** Newest version of every key changed since `state` was written (keyless tables: rows appended since). */
  delta?: string
  deltaRows?: number
  /** Every landed row, oldest file first; relative to the warehouse folder. */
  history: string[]
  /** Rows of the current-state view (live rows). */
  rows: number
  historyRows: number
  stateColumns: string[]
}

export const tablesDirName = 'tables'
export const stateSchema = '_cp_state'

/**
 * A delta is folded into the state file once it holds this share of the state's rows: folding costs the table's
 * size, so folding after a fixed share of it keeps the cost per changed row constant (as an LSM tree's merges do).
 */
export const foldDeltaAtShare = 0.2

/** Every file of the table a snapshot reads (and retention must keep while the snapshot is retained). */
export function tableFilePaths(t: Pick<TableFiles, 'state' | 'delta' | 'history'>): string[] {
  return [t.state, ...(t.delta ? [t.delta] : []), ...t.history]
}

function segment(value: string): string {
  return value.replace(/[\/\\\0]/g, '_')
}

/** A new, never used name for one of a table's files: `tables/<service>/<table>/<snapshot>-<random>-<part>.parquet`. */
export function newTableFile(t: { service: string; table: string }, snapshotId: number, part: 'state' | 'delta' | 'history'): string {
  const name = `${String(snapshotId).padStart(8, '0')}-${randomUUID().slice(0, 8)}-${part}.parquet`
  return [tablesDirName, segment(t.service), segment(t.table), name].join('/')
}

export function absoluteIn(warehouseDir: string, relativePath: string): string {
  return join(warehouseDir, ...relativePath.split('/'))
}

/** Writes `selectSql` to a warehouse table file and makes it durable before any snapshot can reference it. */
export async function writeTableFile(db: Database, selectSql: string, absolutePath: string): Promise<void> {
  await mkdir(dirname(absolutePath), { recursive: true })
  await db.run(`COPY (${selectSql}) TO ${quoteLiteral(absolutePath)} (FORMAT parquet, COMPRESSION zstd)`)
  await fsyncPath(absolutePath)
}

export function readFilesSql(absolutePaths: string[]): string {
  return `read_parquet([${absolutePaths.map(quoteLiteral).join(', ')}], union_by_name = true, hive_partitioning = false)`
}

/**
 * The table's three relations in a snapshot: `_cp_state."<service>__<table>"`, `<service>."<table>__history"`
 * and `<service>."<table>"` (current state without `_cp_*` columns and, unless soft deletes, without deleted rows).
 * Paths are absolute: DuckDB resolves relative ones against the reader's working directory, not the file's.
 */
export async function createTableViews(db: Database, warehouseDir: string, t: TableFiles, softDeletes: boolean): Promise<void> {
  const schema = quoteIdent(t.service)
  const state = `${stateSchema}.${quoteIdent(`${t.service}__${t.table}`)}`
  const history = `${schema}.${quoteIdent(`${t.table}__history`)}`
  const current = `${schema}.${quoteIdent(t.table)}`
  await db.run(`CREATE SCHEMA IF NOT EXISTS ${schema}; CREATE SCHEMA IF NOT EXISTS ${stateSchema}`)
  await db.run(`CREATE OR REPLACE VIEW ${state} AS ${stateRelationSql(warehouseDir, t)}`)
  await db.run(`CREATE OR REPLACE VIEW ${history} AS SELECT * FROM ${readFilesSql(t.history.map((p) => absoluteIn(warehouseDir, p)))}`)
  await db.run(`CREATE OR REPLACE VIEW ${current} AS ${currentStateSelect(t, state, softDeletes)}`)
}

/** Drops the three relations of a table no longer in the snapshot (a build that started from the previous snapshot's file). */
export async function dropTableViews(db: Database, t: Pick<TableFiles, 'service' | 'table'>): Promise<void> {
  const schema = quoteIdent(t.service)
  await db.run(`DROP VIEW IF EXISTS ${schema}.${quoteIdent(t.table)}; DROP VIEW IF EXISTS ${schema}.${quoteIdent(`${t.table}__history`)};
    DROP VIEW IF EXISTS ${stateSchema}.${quoteIdent(`${t.service}__${t.table}`)}`)
}

/**
 * The table's state (every key's newest version, tombstones included) as a query over its files: the state file
 * where the delta has no newer version of the key, then the delta. `delta` names another relation in its place
 * (a temp table holding the next delta, while a publish folds it in).
 */
export function stateRelationSql(warehouseDir: string, t: Pick<TableFiles, 'state' | 'delta' | 'key'>, delta?: string): string {
  const base = readFilesSql([absoluteIn(warehouseDir, t.state)])
  const changed = delta ?? (t.delta ? readFilesSql([absoluteIn(warehouseDir, t.delta)]) : undefined)
  if (!changed) return `SELECT * FROM ${base}`
  if (t.key.length === 0) return `SELECT * FROM ${base} UNION ALL BY NAME SELECT * FROM ${changed}`
  return `SELECT b.* FROM ${base} b ANTI JOIN ${changed} d ON ${keyMatch('b', 'd', t.key)} UNION ALL BY NAME SELECT * FROM ${changed}`
}

/** Only CDC rows carry deletes; integration events (append-only) have no `_cp_op` / `_cp_deleted`. */
function hasTombstones(t: Pick<TableFiles, 'kind' | 'stateColumns'>): boolean {
  return t.kind === 'changes' && t.stateColumns.includes('_cp_op') && t.stateColumns.includes('_cp_deleted')
}

/** Which state rows the current-state view shows: all with soft deletes or without tombstone columns, else the live ones. */
export function liveFilterSql(t: Pick<TableFiles, 'kind' | 'stateColumns'>, softDeletes: boolean): string {
  return softDeletes || !hasTombstones(t) ? 'true' : liveRowPredicate(t.kind)
}

/** The current-state query over a state relation: `_cp_*` columns hidden, tombstones filtered unless soft deletes. */
export function currentStateSelect(t: Pick<TableFiles, 'kind' | 'stateColumns'>, state: string, softDeletes: boolean): string {
  const hasDeletes = hasTombstones(t)
  const excluded = t.stateColumns.filter((c) => c.startsWith('_cp_') && !(softDeletes && hasDeletes && c === '_cp_deleted'))
  const exclude = excluded.length ? ` EXCLUDE (${excluded.map(quoteIdent).join(', ')})` : ''
  const filter = liveFilterSql(t, softDeletes)
  const softDeleteFix = softDeletes && hasDeletes ? ` REPLACE (coalesce(_cp_deleted, _cp_op = 'd', false) AS _cp_deleted)` : ''
  return `SELECT *${exclude}${softDeleteFix} FROM ${state} WHERE ${filter}`
}
