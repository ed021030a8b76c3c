import { dirname } from 'node:path'
import type { Database } from '../../core/duckdb/index.ts'
import { readResults, type ReconcileTableResult } from './reconcile-result.ts'

/**
 * The warehouse folder of a snapshot being built: publish builds in `<warehouse>/_tmp/<name>.duckdb`.
 * (publish.ts passes no warehouse path to writeMetadata; a `reconciliation` input there would replace this.)
 */
function warehouseOf(db: Database): string | undefined {
  if (db.path === ':memory:' || db.path === '') return undefined
  return dirname(dirname(db.path))
}

/**
 * `coldpipe.reconciliation` in a snapshot: each table's latest reconciliation (of an earlier snapshot, named in
 * `snapshot`), so readers of the warehouse see whether a table was last found to match its source.
 */
export async function writeReconciliationTable(db: Database, results?: ReconcileTableResult[]): Promise<void> {
  const dir = results ? undefined : warehouseOf(db)
  const rows = results ?? (dir ? await readResults(dir) : [])
  await db.run(`CREATE OR REPLACE TABLE coldpipe.reconciliation (source VARCHAR, "table" VARCHAR, status VARCHAR, compared_rows BIGINT, too_new_rows BIGINT,
    source_rows BIGINT, warehouse_rows BIGINT, missing_rows BIGINT, extra_rows BIGINT, different_rows BIGINT, differing_segments INTEGER,
    sample_keys JSON, basis VARCHAR, compared VARCHAR, snapshot INTEGER, checked_at TIMESTAMPTZ, error VARCHAR)`)
  for (const r of rows) {
    await db.run(`INSERT INTO coldpipe.reconciliation VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::JSON, ?, ?, ?, ?::TIMESTAMPTZ, ?)`, [
      r.source, r.table, r.status, r.counts.comparedRows, r.counts.tooNewRows, r.counts.sourceRows, r.counts.warehouseRows,
      r.missingCount, r.extraCount, r.differentCount, r.differingSegments.length + r.unresolvedSegments,
      JSON.stringify(r.sampleKeys), r.compared.basis, r.compared.description, r.snapshot, r.checkedAt, r.error ? `${r.error.code}: ${r.error.message}` : null,
    ])
  }
}
