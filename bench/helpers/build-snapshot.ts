import { openDatabase } from '../../core/duckdb/index.ts'
import type { SnapshotStore } from '../../warehouse/snapshot-store.ts'

/**
 * Publishes snapshot 1 built by `createSql` (tables created straight in DuckDB, no lake), with a fresh
 * export watermark for `service.table`, so reports over it are not stale.
 */
export async function buildBenchSnapshot(store: SnapshotStore, p: { createSql: string; service: string; table: string; rows: number }): Promise<void> {
  const buildPath = await store.newBuildPath()
  const db = await openDatabase(buildPath)
  try {
    await db.run(p.createSql)
  } finally {
    db.close()
  }
  const asOf = new Date().toISOString()
  await store.publish(buildPath, {
    id: 1,
    publishedAt: asOf,
    lakeVersion: 1,
    watermarks: [{ key: `export:${p.service}.${p.table}`, service: p.service, table: p.table, kind: 'export-full', position: null, asOf }],
    tables: [{ schema: p.service, name: p.table, rows: p.rows }],
  })
}
