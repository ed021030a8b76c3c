import { ColdpipeError, messageOf } from '../../core/errors.ts'
import { childLogger, silentLogger, type Logger } from '../../core/logger.ts'
import type { ExportConfig, SourceConfig } from '../../ingest/export/export-config.ts'
import { maskingFor } from '../../ingest/pii/index.ts'
import { CommitLog, type LakeFile } from '../../lake/index.ts'
import { SnapshotStore } from '../snapshot-store.ts'
import type { TableFiles } from '../table-files.ts'
import type { WarehouseConfig } from '../warehouse-config.ts'
import { isIntegerType, sourceDialect, type SourceKind } from './canonical-sql.ts'
import { findTableConfig, openSnapshotForReconcile, planTableCompare, type PlannedSourceColumn } from './compare-plan.ts'
import { reconcileSettings, type ReconcileConfig } from './reconcile-config.ts'
import { compareTable, type CompareSource } from './reconcile-table.ts'

/**
 * The warehouse side of the next reconciliation, computed ahead (after a publish) and kept in the segment cache
 * (segment-cache.ts), so that a user's first `coldpipe reconcile` of a table finds it and only reads the source.
 * The source is not contacted: the compared columns and their source types are the ones the export recorded in
 * the lake (each export file's `columns`, the types the source's description mapped them to), the compare point
 * comes from the snapshot's watermarks and the config. What the source would decide is guessed: the ordered
 * checksum for a PostgreSQL table with one integer key (a primary key leads an index). A guess that turns out
 * wrong, or columns that changed at the source since, give the reconciliation another statement shape: it
 * computes its side itself, as without a precompute. Kept segments are only ever reused for the same table
 * files and statement, so a precompute cannot hide a difference.
 */
export interface PrecomputeOptions {
  sources: Record<string, SourceConfig>
  exports: ExportConfig[]
  warehouse: WarehouseConfig
  reconcile?: Partial<ReconcileConfig>
  lakeRoot: string
  only?: { source: string; table?: string }
  logger?: Logger
  /** Aborting interrupts the running DuckDB statement; what was kept stays valid. */
  signal?: AbortSignal
}

export interface PrecomputedTable {
  source: string
  table: string
  status: 'kept' | 'skipped' | 'error'
  reason?: string
  /** Segments carried forward from what was kept before, and computed now. */
  carried?: number
  computed?: number
  durationMs: number
}

export interface PrecomputeRun {
  snapshot?: number
  tables: PrecomputedTable[]
}

export async function precomputeWarehouseSide(options: PrecomputeOptions): Promise<PrecomputeRun> {
  const logger = childLogger(options.logger ?? silentLogger, { stage: 'reconcile-precompute' })
  const config = reconcileSettings(options.reconcile)
  const store = new SnapshotStore(options.warehouse.path)
  const manifest = await store.current()
  if (!manifest) return { tables: [] }
  const only = options.only
  // Exports only: change-fed tables are typed from the change events, not by the export's type mapping.
  const tables = Object.values(manifest.tableFiles ?? {})
    .filter((t) => options.sources[t.service] && t.kind !== 'changes' && (!only || (t.service === only.source && (!only.table || t.table === only.table))))
  if (tables.length === 0) return { snapshot: manifest.id, tables: [] }
  const lake = await CommitLog.open(options.lakeRoot, { inspect: true })
  const files = (() => {
    try {
      return lake.activeFiles(manifest.lakeVersion)
    } catch {
      // Versions that old are no longer answered from memory: the newest columns are as good (a change since only
      // makes the reconciliation compute its side itself).
      return lake.activeFiles()
    }
  })()
  const masking = maskingFor(options.lakeRoot)
  const { db, engine } = await openSnapshotForReconcile(store.databasePath(manifest.id), options.warehouse)
  const stop = (): void => db.interrupt()
  options.signal?.addEventListener('abort', stop, { once: true })
  const results: PrecomputedTable[] = []
  try {
    for (const t of tables) {
      if (options.signal?.aborted) throw options.signal.reason
      const started = Date.now()
      const done = (r: Omit<PrecomputedTable, 'source' | 'table' | 'durationMs'>): PrecomputedTable => ({ source: t.service, table: t.table, ...r, durationMs: Date.now() - started })
      try {
        results.push(done(await precomputeTable(t)))
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason
        // One table's failure leaves its reconciliation to compute its side; the others are still prepared.
        logger.warn({ err: error, table: `${t.service}.${t.table}` }, `precomputing the warehouse side of ${t.service}.${t.table} failed: ${messageOf(error)}`)
        results.push(done({ status: 'error', reason: messageOf(error) }))
      }
      const r = results.at(-1)!
      logger.info({ table: `${r.source}.${r.table}`, status: r.status, reason: r.reason, carried: r.carried, computed: r.computed, durationMs: r.durationMs }, `reconcile precompute ${r.source}.${r.table}: ${r.status}`)
    }
  } finally {
    options.signal?.removeEventListener('abort', stop)
    db.close()
  }
  return { snapshot: manifest.id, tables: results }

  async function precomputeTable(t: TableFiles): Promise<Omit<PrecomputedTable, 'source' | 'table' | 'durationMs'>> {
    const kind = options.sources[t.service]!.kind
    const described = exportedColumns(lake, files, t)
    if (!described) return { status: 'skipped', reason: 'the lake records no exported columns for the table' }
    const plan = await planTableCompare({
      db, engine, warehousePath: options.warehouse.path, files: t, tableConfig: findTableConfig(options.exports, t.service, t.table), described,
      masked: masking.forTable(t.service, t.table), watermarks: manifest!.watermarks, config, readAt: 'reconcile time', ...(options.signal ? { signal: options.signal } : {}), logger,
    })
    if (plan.skipped !== undefined) return { status: 'skipped', reason: plan.skipped }
    const key = plan.input.key
    const outcome = await compareTable({
      source: offlineSource(kind), ...plan.input,
      ordered: kind === 'postgres' && key.length === 1 && isIntegerType(key[0]!.duckType),
      warehouseOnly: true,
    })
    return { status: 'kept', ...(outcome.warehouseSegments ?? {}) }
  }
}

/** The columns and DuckDB types of the table's newest export file, as the export mapped the source's columns. */
function exportedColumns(lake: CommitLog, files: Map<string, LakeFile>, t: Pick<TableFiles, 'service' | 'table'>): PlannedSourceColumn[] | undefined {
  let newest: { version: number; file: LakeFile } | undefined
  for (const file of files.values()) {
    if (file.service !== t.service || file.table !== t.table || !file.columns || (file.origin !== 'export' && file.origin !== 'compaction')) continue
    const version = lake.addedIn(file.path) ?? -1
    if (!newest || version > newest.version) newest = { version, file }
  }
  // Compaction adds its ordering columns; the source has none of them.
  return newest?.file.columns!.filter((c) => c.name !== '_cp_seq' && c.name !== '_cp_run_id').map((c) => ({ name: c.name, duckType: c.type, selectExpr: '' }))
}

/** Stands in for the source in a warehouse-only pass, which must never read it. */
function offlineSource(kind: SourceKind): CompareSource {
  const refuse = (): never => {
    throw new ColdpipeError('RECONCILE_FAILED', 'the warehouse-side precompute reads no source')
  }
  return { dialect: sourceDialect(kind), kind, relation: (table) => table, query: async () => refuse(), leadsAnIndex: async () => refuse(), connections: async () => 1 }
}
