import { randomUUID } from 'node:crypto'
import { openDatabase, type Database } from '../../core/duckdb/index.ts'
import { CommitLog, writeParquetToLake, type Commit, type LakeFile } from '../../lake/index.ts'

let scratch: Promise<Database> | undefined
function scratchDb(): Promise<Database> {
  scratch ??= openDatabase(':memory:', { threads: 1 })
  return scratch
}

async function describe(db: Database, selectSql: string): Promise<{ name: string; type: string }[]> {
  const rows = await db.all<{ column_name: string; column_type: string }>(`DESCRIBE ${selectSql}`)
  return rows.map((r) => ({ name: r.column_name, type: r.column_type }))
}

/** Lands one export run of a table per docs/lake-contract.md: one file per `parts` entry, one commit. */
export async function commitExport(lakeRoot: string, p: {
  service: string; table: string; mode: 'full' | 'incremental'; key?: string[]; cursor?: string
  runId?: string; parts: string[]; asOf?: Date; position?: string | null
}): Promise<Commit> {
  const log = await CommitLog.open(lakeRoot)
  const db = await scratchDb()
  const runId = p.runId ?? `run-${randomUUID().slice(0, 8)}`
  const add: LakeFile[] = []
  for (const [i, sql] of p.parts.entries()) {
    const path = log.layout.exportFile({ service: p.service, table: p.table, runId, part: i })
    const written = await writeParquetToLake(db, log.layout, sql, path)
    const n = (await db.all<{ n: bigint }>(`SELECT count(*) AS n FROM (${sql})`))[0]?.n ?? 0n
    add.push({ path, service: p.service, table: p.table, origin: 'export', rows: Number(n), bytes: written.bytes, columns: await describe(db, `(${sql})`),
      key: p.key, runId, mode: p.mode, part: i, ...(p.cursor ? { cursor: p.cursor } : {}) })
  }
  const remove = p.mode === 'full'
    ? [...log.activeFiles().values()].filter((f) => f.origin === 'export' && f.service === p.service && f.table === p.table).map((f) => f.path)
    : []
  const { commit } = await log.commit({
    kind: 'export', runId, idempotencyKey: `export:${runId}:${p.service}.${p.table}`, add, remove,
    watermarks: [{ key: `export:${p.service}.${p.table}`, service: p.service, table: p.table, kind: p.mode === 'full' ? 'export-full' : 'export-cursor',
      position: p.position ?? null, asOf: (p.asOf ?? new Date()).toISOString() }],
  })
  return commit
}

/**
 * Lands one change micro-batch: `selectSql` must yield the table's columns plus the `_cp_*` metadata
 * columns (at least `_cp_op`, `_cp_deleted`, `_cp_source_pos`, `_cp_offset`).
 */
export async function commitChanges(lakeRoot: string, p: {
  service: string; table: string; key: string[]; topic?: string; partition?: number; firstOffset: number; lastOffset: number
  selectSql: string; asOf?: Date; date?: string
}): Promise<Commit> {
  const log = await CommitLog.open(lakeRoot)
  const db = await scratchDb()
  const topic = p.topic ?? `${p.service}.public.${p.table}`
  const partition = p.partition ?? 0
  const path = log.layout.changeFile({ service: p.service, table: p.table, date: p.date ?? '2026-01-01', topic, partition, firstOffset: String(p.firstOffset), lastOffset: String(p.lastOffset) })
  const written = await writeParquetToLake(db, log.layout, p.selectSql, path)
  const n = (await db.all<{ n: bigint }>(`SELECT count(*) AS n FROM (${p.selectSql})`))[0]?.n ?? 0n
  const { commit } = await log.commit({
    kind: 'changes', runId: `ingest-${randomUUID().slice(0, 8)}`, idempotencyKey: `changes:${topic}:${partition}:${p.firstOffset}-${p.lastOffset}`,
    add: [{ path, service: p.service, table: p.table, origin: 'changes', rows: Number(n), bytes: written.bytes, columns: await describe(db, `(${p.selectSql})`),
      key: p.key, topic, partition, firstOffset: String(p.firstOffset), lastOffset: String(p.lastOffset) }],
    watermarks: [{ key: `kafka:${topic}:${partition}`, service: p.service, table: p.table, kind: 'kafka-offset', position: String(p.lastOffset), asOf: (p.asOf ?? new Date()).toISOString() }],
  })
  return commit
}

/** A change row as SQL values, for building micro-batches from JS. */
export interface ChangeRow {
  values: Record<string, string | number | null>
  op: 'c' | 'u' | 'd' | 'r'
  sourcePos: number
  offset: number
}

function literal(v: string | number | null): string {
  if (v === null) return 'NULL'
  return typeof v === 'number' ? String(v) : `'${v.replace(/'/g, "''")}'`
}

/** SELECT of change rows with typed columns (`columns`: name → DuckDB type) and the `_cp_*` metadata. */
export function changeRowsSql(columns: Record<string, string>, rows: ChangeRow[]): string {
  const names = Object.keys(columns)
  const tuples = rows.map((r) => `(${[...names.map((n) => literal(r.values[n] ?? null)), literal(r.op), r.op === 'd' ? 'true' : 'false', literal(String(r.sourcePos).padStart(20, '0')), r.offset].join(', ')})`)
  const casts = names.map((n) => `CAST("${n}" AS ${columns[n]}) AS "${n}"`).join(', ')
  return `SELECT ${casts}, _cp_op, _cp_deleted, _cp_source_pos, CAST(_cp_offset AS BIGINT) AS _cp_offset, 0::BIGINT AS _cp_ts_ms, 'x' AS _cp_topic, 0 AS _cp_partition
    FROM (VALUES ${tuples.join(', ')}) t(${[...names.map((n) => `"${n}"`), '_cp_op', '_cp_deleted', '_cp_source_pos', '_cp_offset'].join(', ')})`
}
