import { quoteLiteral, type Database } from '../core/duckdb/index.ts'
import { absoluteIn, readFilesSql } from './table-files.ts'

/** How many files of one size tier are merged into one file of the next. */
export const historyMergeFanIn = 4

/** Tier of a file by its rows: 0–3 rows tier 0, 4–15 tier 1, 16–63 tier 2, … */
function tierOf(rows: number): number {
  return Math.floor(Math.log(Math.max(rows, 1)) / Math.log(historyMergeFanIn))
}

async function rowsPerFile(db: Database, warehouseDir: string, files: string[]): Promise<number[]> {
  const paths = files.map((p) => absoluteIn(warehouseDir, p))
  const rows = await db.all<{ file_name: string; num_rows: bigint }>(`SELECT file_name, num_rows FROM parquet_file_metadata([${paths.map(quoteLiteral).join(', ')}])`)
  const byPath = new Map(rows.map((r) => [r.file_name, Number(r.num_rows)]))
  return paths.map((p) => byPath.get(p) ?? 0)
}

/**
 * Keeps a table's history (oldest file first) in size tiers, as an LSM tree does: when the newest files hold
 * `historyMergeFanIn` files of the newest file's tier or below, they are rewritten as one file of the next tier,
 * and so on up. A publish therefore rewrites rows in proportion to what it added (each row is rewritten once
 * per tier, log₄ of the history's rows in all), never the whole history, while the file count stays
 * logarithmic in the history's rows (about three per tier), so view binding stays cheap.
 */
export async function tierHistory(db: Database, warehouseDir: string, files: string[], write: (selectSql: string) => Promise<string>): Promise<string[]> {
  if (files.length < historyMergeFanIn) return files
  const tiered = [...files]
  const rows = await rowsPerFile(db, warehouseDir, tiered)
  for (;;) {
    const newest = tiered.length - 1
    const tier = tierOf(rows[newest]!)
    let first = newest
    while (first > 0 && tierOf(rows[first - 1]!) <= tier) first--
    if (newest - first + 1 < historyMergeFanIn) return tiered
    const merged = tiered.slice(first)
    const path = await write(`SELECT * FROM ${readFilesSql(merged.map((p) => absoluteIn(warehouseDir, p)))}`)
    const total = rows.slice(first).reduce((a, b) => a + b, 0)
    tiered.splice(first, merged.length, path)
    rows.splice(first, merged.length, total)
  }
}
