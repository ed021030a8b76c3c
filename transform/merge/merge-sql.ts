import { quoteIdent, quoteLiteral } from '../../core/duckdb/index.ts'

/** How a table's rows become current state. */
export type MergeKind = 'changes' | 'export-full' | 'export-incremental'

export interface MergeTarget {
  /** Fully quoted names. */
  history: string
  state: string
  key: string[]
  kind: MergeKind
}

/** `read_parquet` over files whose column sets may differ (unioned by name). */
export function readParquetSql(absolutePaths: string[]): string {
  return `read_parquet([${absolutePaths.map(quoteLiteral).join(', ')}], union_by_name = true, hive_partitioning = false)`
}

/** Ordering of versions of one key: newest first. Change rows by source position, then Kafka offset; exports by commit. */
export function versionOrderSql(kind: MergeKind): string {
  return kind === 'changes' ? '_cp_source_pos DESC NULLS LAST, _cp_offset DESC NULLS LAST' : '_cp_seq DESC'
}

export function keyMatch(left: string, right: string, key: string[]): string {
  return key.map((k) => `${left}.${quoteIdent(k)} = ${right}.${quoteIdent(k)}`).join(' AND ')
}

/** True when row `s` (in state) holds a version of its key at least as new as row `l` (staged). */
export function stateIsNewerSql(kind: MergeKind, s = 's', l = 'l'): string {
  return kind === 'changes'
    ? `(${s}._cp_source_pos > ${l}._cp_source_pos OR (${s}._cp_source_pos = ${l}._cp_source_pos AND ${s}._cp_offset >= ${l}._cp_offset))`
    : `${s}._cp_seq > ${l}._cp_seq`
}

/** The newest version per key among `relation`'s rows. */
export function latestPerKeySql(relation: string, key: string[], kind: MergeKind): string {
  return `SELECT * FROM ${relation} QUALIFY row_number() OVER (PARTITION BY ${key.map(quoteIdent).join(', ')} ORDER BY ${versionOrderSql(kind)}) = 1`
}

/**
 * Statements that merge the rows of temp table `staged` into `target.state` (current state with `_cp_*`
 * columns and change tombstones): keep the newest version per key among the staged rows, drop it when
 * state already holds a newer or equal version (duplicates, out-of-order replays), then DELETE the keys
 * and INSERT their latest versions. Cost follows the staged rows, not the table.
 */
export function mergeStagedSql(target: MergeTarget, staged = 'staged'): string[] {
  return [
    `CREATE OR REPLACE TEMP TABLE latest AS ${latestPerKeySql(staged, target.key, target.kind)}`,
    `DELETE FROM latest l USING ${target.state} s WHERE ${keyMatch('s', 'l', target.key)} AND ${stateIsNewerSql(target.kind)}`,
    `DELETE FROM ${target.state} s USING latest l WHERE ${keyMatch('s', 'l', target.key)}`,
    `INSERT INTO ${target.state} BY NAME SELECT * FROM latest`,
    `DROP TABLE latest`,
  ]
}

/** Full exports: the state is exactly the latest run; no key needed. */
export function replaceStateSql(target: MergeTarget, staged = 'staged'): string[] {
  return [`DELETE FROM ${target.state}`, `INSERT INTO ${target.state} BY NAME SELECT * FROM ${staged} WHERE _cp_seq = (SELECT max(_cp_seq) FROM ${staged})`]
}

/** The predicate that hides change tombstones. */
export function liveRowPredicate(kind: MergeKind): string {
  return kind === 'changes' ? `NOT coalesce(_cp_deleted, _cp_op = 'd', false)` : 'true'
}
