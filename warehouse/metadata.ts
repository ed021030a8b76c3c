import type { Database } from '../core/duckdb/index.ts'
import type { Watermark } from '../lake/index.ts'
import type { StaleTable } from './quarantine.ts'
import type { SnapshotTable } from './snapshot-store.ts'
import { writeReconciliationTable } from './reconcile/reconcile-metadata.ts'

export interface MetadataInput {
  id: number
  publishedAt: Date
  lakeVersion: number
  watermarks: Watermark[]
  /** Row counts already known (`schema.name`), so unchanged tables are not scanned on every publish. */
  knownRows?: Map<string, number>
  stale?: StaleTable[]
}

/** Rewrites the `coldpipe` schema (snapshot, tables, columns, freshness) and returns the table list. */
export async function writeMetadata(db: Database, p: MetadataInput): Promise<SnapshotTable[]> {
  // One commit for the whole schema: on a database file every autocommitted INSERT is a WAL write of its own.
  await db.run('BEGIN TRANSACTION')
  try {
    const tables = await writeMetadataRows(db, p)
    await db.run('COMMIT')
    return tables
  } catch (error) {
    await db.run('ROLLBACK').catch(() => undefined)
    throw error
  }
}

async function writeMetadataRows(db: Database, p: MetadataInput): Promise<SnapshotTable[]> {
  const at = p.publishedAt.toISOString()
  await db.run(`CREATE SCHEMA IF NOT EXISTS coldpipe;
    CREATE OR REPLACE TABLE coldpipe.snapshot AS SELECT ?::INTEGER AS id, ?::TIMESTAMPTZ AS published_at, ?::BIGINT AS lake_version`, [p.id, at, p.lakeVersion])
  const userRelations = `schema_name NOT IN ('coldpipe', '_cp_state', 'main', 'information_schema', 'pg_catalog') AND NOT internal AND database_name = current_database()`
  const relations = await db.all<{ schema_name: string; name: string }>(
    `SELECT schema_name, table_name AS name FROM duckdb_tables() WHERE ${userRelations} AND NOT temporary
     UNION ALL SELECT schema_name, view_name FROM duckdb_views() WHERE ${userRelations} AND NOT temporary ORDER BY 1, 2`,
  )
  const tables: SnapshotTable[] = []
  for (const r of relations) {
    const known = p.knownRows?.get(`${r.schema_name}.${r.name}`)
    const n = known ?? Number((await db.all<{ n: bigint }>(`SELECT count(*) AS n FROM "${r.schema_name.replace(/"/g, '""')}"."${r.name.replace(/"/g, '""')}"`))[0]?.n ?? 0n)
    tables.push({ schema: r.schema_name, name: r.name, rows: n })
  }
  await db.run(`CREATE OR REPLACE TABLE coldpipe.tables (schema VARCHAR, name VARCHAR, rows BIGINT)`)
  for (const t of tables) await db.run(`INSERT INTO coldpipe.tables VALUES (?, ?, ?)`, [t.schema, t.name, t.rows])
  await db.run(`CREATE OR REPLACE TABLE coldpipe.columns AS
    SELECT schema_name AS schema, table_name AS "table", column_name AS name, data_type AS type, column_index AS position
    FROM duckdb_columns() WHERE ${userRelations} ORDER BY 1, 2, 5`)
  // `stale`/`stale_reason`: the table kept an older state because a lake file of it was quarantined.
  await db.run(`CREATE OR REPLACE TABLE coldpipe.freshness (source VARCHAR, service VARCHAR, "table" VARCHAR, position VARCHAR, as_of TIMESTAMPTZ, lag_seconds DOUBLE, stale BOOLEAN, stale_reason VARCHAR)`)
  const stale = new Map((p.stale ?? []).map((s) => [s.table, s]))
  const seen = new Set<string>()
  for (const w of p.watermarks) {
    const lag = Math.max(0, (p.publishedAt.getTime() - Date.parse(w.asOf)) / 1000)
    const reason = stale.get(`${w.service}.${w.table}`)?.reason ?? null
    seen.add(`${w.service}.${w.table}`)
    await db.run(`INSERT INTO coldpipe.freshness VALUES (?, ?, ?, ?, ?::TIMESTAMPTZ, ?, ?, ?)`, [w.key, w.service, w.table, w.position, w.asOf, lag, reason !== null, reason])
  }
  // A table that never published before its file was quarantined has no watermark to show; it still gets a row.
  for (const s of stale.values()) {
    if (!seen.has(s.table)) await db.run(`INSERT INTO coldpipe.freshness VALUES (NULL, ?, ?, NULL, NULL, NULL, true, ?)`, [s.service, s.name, s.reason])
  }
  await writeReconciliationTable(db)
  return tables.filter((t) => !t.name.endsWith('__history'))
}
