import { readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from '../../lake/index.ts'

export interface TableCounts {
  /** Rows of the source table (within the export's `where`), too-new ones included. */
  sourceRows: number
  /** Warehouse rows in the comparison: rows whose key is too new at the source are left out. */
  warehouseRows: number
  /** Source rows at or before the compare point. */
  comparedRows: number
  /** Source rows changed after the compare point: counted, not compared. */
  tooNewRows: number
}

/** A key range whose counts or checksums differ; `from`/`to` are the first key column's bounds ([from, to)). */
export interface DifferingSegment {
  from?: string
  to?: string
  sourceRows: number
  warehouseRows: number
}

export interface DifferingRow {
  /** Key column → its canonical text (timestamps as microseconds since the epoch). */
  key: Record<string, string | null>
  /** For rows on both sides: the columns whose values differ. */
  columns?: string[]
}

export type ReconcileStatus = 'match' | 'mismatch' | 'error' | 'skipped'

/** One table's reconciliation: what was compared, at which point, and what differs. */
export interface ReconcileTableResult {
  source: string
  table: string
  runId: string
  snapshot: number
  lakeVersion: number
  checkedAt: string
  durationMs: number
  status: ReconcileStatus
  compared: {
    /** `export-snapshot`: the export run's read; `watermark`: rows at or below the watermark minus lag; `current`: the whole table as it is now. */
    basis: 'export-snapshot' | 'watermark' | 'current'
    description: string
    cursor?: string
    /** Rows whose cursor is after this are too new to compare. */
    cutoff?: string
    watermark?: string | null
    exportAsOf?: string
    /** When the source read (a consistent snapshot) began. */
    sourceReadAt?: string
    replica: boolean
  }
  counts: TableCounts
  columnsCompared: string[]
  columnsNotCompared: { column: string; reason: string }[]
  differingSegments: DifferingSegment[]
  unresolvedSegments: number
  missingCount: number
  extraCount: number
  differentCount: number
  /** In the source, not in the warehouse. */
  missing: DifferingRow[]
  /** In the warehouse, not in the source. */
  extra: DifferingRow[]
  different: DifferingRow[]
  /** The first differing keys of any kind. */
  sampleKeys: Record<string, string | null>[]
  transfer: { sourceQueries: number; sourceAggregateRows: number; sourceRowsFetched: number; sourceKeysFetched: number; warehouseRowsFetched: number }
  error?: { code: string; message: string }
  /** Why a table was skipped. */
  reason?: string
}

export function resultsDir(warehousePath: string): string {
  return join(warehousePath, '_state', 'reconcile')
}

function fileName(source: string, table: string): string {
  return `${encodeURIComponent(source)}.${encodeURIComponent(table)}.json`
}

/** Keeps the latest result per table: one small file each, replaced atomically. */
export async function saveResult(warehousePath: string, result: ReconcileTableResult): Promise<void> {
  await writeFileAtomic(join(warehousePath, '_tmp'), join(resultsDir(warehousePath), fileName(result.source, result.table)), JSON.stringify(result, null, 2))
}

/** The latest result of every table reconciled so far, by source and table. */
export async function readResults(warehousePath: string): Promise<ReconcileTableResult[]> {
  const dir = resultsDir(warehousePath)
  const names = await readdir(dir).catch(() => [] as string[])
  const out: ReconcileTableResult[] = []
  for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
    try {
      out.push(JSON.parse(await readFile(join(dir, name), 'utf8')) as ReconcileTableResult)
    } catch {
      // Half-written files never exist (atomic rename); an unreadable one is skipped, the rest still shows.
    }
  }
  return out.sort((a, b) => `${a.source}.${a.table}`.localeCompare(`${b.source}.${b.table}`))
}

/** Removes the result of a table no longer reconciled (left the config or the warehouse). */
export async function removeResult(warehousePath: string, source: string, table: string): Promise<void> {
  await rm(join(resultsDir(warehousePath), fileName(source, table)), { force: true })
}
