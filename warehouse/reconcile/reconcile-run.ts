import type { Database } from '../../core/duckdb/index.ts'
import { maskingFor } from '../../ingest/pii/index.ts'
import { ColdpipeError, isColdpipeError, messageOf } from '../../core/errors.ts'
import { childLogger, newRunId, silentLogger, type Logger } from '../../core/logger.ts'
import type { ExportConfig, ExportTableConfig, SourceConfig } from '../../ingest/export/export-config.ts'
import { SourceGuard } from '../../ingest/export/source-guard.ts'
import { isDiskFull } from '../../lake/index.ts'
import { SnapshotStore, type SnapshotManifest } from '../snapshot-store.ts'
import type { TableFiles } from '../table-files.ts'
import type { WarehouseConfig } from '../warehouse-config.ts'
import { findTableConfig, openSnapshotForReconcile, planTableCompare } from './compare-plan.ts'
import { reconcileSettings, type ReconcileConfig } from './reconcile-config.ts'
import { resultsDir, saveResult, type ReconcileTableResult } from './reconcile-result.ts'
import { ReconcileSource } from './reconcile-source.ts'
import { compareTable } from './reconcile-table.ts'

export interface ReconcileRunOptions {
  sources: Record<string, SourceConfig>
  exports: ExportConfig[]
  warehouse: WarehouseConfig
  reconcile?: Partial<ReconcileConfig>
  /** Only this source, or this source's table. */
  only?: { source: string; table?: string }
  runId?: string
  logger?: Logger
  signal?: AbortSignal
  /** The process's source guard (shared breaker); one of its own otherwise. */
  guard?: SourceGuard
  /** Where the guard records breaker state for `coldpipe status`. */
  lakeRoot?: string
}

export interface ReconcileRun {
  runId: string
  snapshot: number
  results: ReconcileTableResult[]
  /** One per mismatching table, for the job's `job.warning` alert (table and first differing keys). */
  warnings: { code: string; message: string; context: Record<string, unknown> }[]
}

/** `service.table` of every table the snapshot holds whose service is a configured source. */
function plannedTables(manifest: SnapshotManifest, options: ReconcileRunOptions): TableFiles[] {
  const only = options.only
  if (only && !options.sources[only.source]) {
    throw new ColdpipeError('SOURCE_UNKNOWN', `source ${only.source} is not under sources in the config`, { context: { source: only.source } })
  }
  const tables = Object.values(manifest.tableFiles ?? {})
    .filter((t) => options.sources[t.service] && (!only || (t.service === only.source && (!only.table || t.table === only.table))))
    .sort((a, b) => `${a.service}.${a.table}`.localeCompare(`${b.service}.${b.table}`))
  if (only?.table && tables.length === 0) {
    throw new ColdpipeError('RECONCILE_TABLE_NOT_FOUND', `table ${only.source}.${only.table} is not in snapshot ${manifest.id}; export and publish it first`, {
      context: { source: only.source, table: only.table, snapshot: manifest.id },
    })
  }
  return tables
}

/**
 * Reconciles every exported or change-fed table of the current snapshot whose source is configured against
 * that source (or its replica): one table at a time, each under the source's retry and breaker. Results are
 * saved per table (the latest kept) and returned; a table that fails is recorded with its error.
 */
export async function reconcile(options: ReconcileRunOptions): Promise<ReconcileRun> {
  const runId = options.runId ?? newRunId('reconcile')
  const logger = childLogger(options.logger ?? silentLogger, { runId })
  const config = reconcileSettings(options.reconcile)
  const store = new SnapshotStore(options.warehouse.path)
  const manifest = await store.current()
  if (!manifest) {
    throw new ColdpipeError('WAREHOUSE_NO_SNAPSHOT', `no snapshot has been published in ${options.warehouse.path} yet (run \`coldpipe publish\`)`, { context: { warehouse: options.warehouse.path } })
  }
  const tables = plannedTables(manifest, options)
  const guard = options.guard ?? new SourceGuard({ sources: options.sources, logger, ...(options.lakeRoot ? { lakeRoot: options.lakeRoot } : {}) })
  // Not the readers' sandbox: coldpipe's own queries.
  const { db, engine } = await openSnapshotForReconcile(store.databasePath(manifest.id), options.warehouse)
  const results: ReconcileTableResult[] = []
  try {
    for (const files of tables) {
      if (options.signal?.aborted) throw options.signal.reason
      const result = await reconcileOne(files)
      results.push(result)
      await save(result)
      const log = result.status === 'mismatch' || result.status === 'error' ? logger.warn.bind(logger) : logger.info.bind(logger)
      log({ table: `${result.source}.${result.table}`, status: result.status, counts: result.counts, missing: result.missingCount, extra: result.extraCount, different: result.differentCount, transfer: result.transfer, durationMs: result.durationMs },
        `reconciled ${result.source}.${result.table}: ${result.status}`)
    }
  } finally {
    db.close()
    if (!options.guard) await guard.close()
  }
  const warnings = results.filter((r) => r.status === 'mismatch').map((r) => ({
    code: 'RECONCILE_MISMATCH',
    message: `${r.source}.${r.table} differs from its source: ${r.missingCount} missing, ${r.extraCount} extra, ${r.differentCount} different row(s)${r.unresolvedSegments ? `, ${r.unresolvedSegments} segment(s) not narrowed` : ''}${r.sampleKeys.length ? `; first keys ${r.sampleKeys.slice(0, 5).map((k) => JSON.stringify(k)).join(', ')}` : ''}`,
    context: { table: `${r.source}.${r.table}`, snapshot: r.snapshot, sampleKeys: r.sampleKeys.slice(0, 10), counts: r.counts },
  }))
  return { runId, snapshot: manifest.id, results, warnings }

  /** A result that cannot be written stops the run, coded: nothing else is written, nothing is lost. */
  async function save(result: ReconcileTableResult): Promise<void> {
    try {
      await saveResult(options.warehouse.path, result)
    } catch (error) {
      const where = resultsDir(options.warehouse.path)
      if (await isDiskFull(error, options.warehouse.path)) {
        throw new ColdpipeError('WAREHOUSE_DISK_FULL', `no space left on the warehouse's volume saving the reconciliation of ${result.source}.${result.table} in ${where}`, {
          cause: error, context: { path: where, table: `${result.source}.${result.table}` },
        })
      }
      throw new ColdpipeError('RECONCILE_FAILED', `cannot save the reconciliation of ${result.source}.${result.table} in ${where}: ${messageOf(error)}`, {
        cause: error, context: { path: where, table: `${result.source}.${result.table}` },
      })
    }
  }

  async function reconcileOne(files: TableFiles): Promise<ReconcileTableResult> {
    const started = Date.now()
    const sourceName = files.service
    const sourceConfig = options.sources[sourceName]!
    const replica = config.replicaUrls[sourceName]
    const tableConfig = findTableConfig(options.exports, sourceName, files.table)
    const base: ReconcileTableResult = {
      source: sourceName, table: files.table, runId, snapshot: manifest!.id, lakeVersion: manifest!.lakeVersion, checkedAt: new Date().toISOString(), durationMs: 0,
      status: 'match', compared: { basis: 'current', description: '', replica: replica !== undefined },
      counts: { sourceRows: 0, warehouseRows: 0, comparedRows: 0, tooNewRows: 0 }, columnsCompared: [], columnsNotCompared: [],
      differingSegments: [], unresolvedSegments: 0, missingCount: 0, extraCount: 0, differentCount: 0, missing: [], extra: [], different: [], sampleKeys: [],
      transfer: { sourceQueries: 0, sourceAggregateRows: 0, sourceRowsFetched: 0, sourceKeysFetched: 0, warehouseRowsFetched: 0 },
    }
    try {
      return await guard.execute(sourceName, async () => {
        const source = await ReconcileSource.open(sourceName, sourceConfig, { url: replica ?? sourceConfig.url, minQueryIntervalMs: config.minQueryIntervalMs })
        try {
          const result = await compareWith(source, db, files, tableConfig, base)
          result.transfer = { ...result.transfer, sourceQueries: source.transferred.queries, sourceAggregateRows: source.transferred.aggregateRows, sourceRowsFetched: source.transferred.rows, sourceKeysFetched: source.transferred.keys }
          result.durationMs = Date.now() - started
          return result
        } finally {
          await source.close()
        }
      }, options.signal)
    } catch (error) {
      if (options.signal?.aborted) throw error
      const coded = isColdpipeError(error) ? error : new ColdpipeError('RECONCILE_FAILED', `${sourceName}.${files.table}: ${messageOf(error)}`, { cause: error })
      return { ...base, status: 'error', durationMs: Date.now() - started, error: { code: coded.code, message: coded.message } }
    }
  }

  async function compareWith(source: ReconcileSource, db: Database, files: TableFiles, tableConfig: ExportTableConfig | undefined, base: ReconcileTableResult): Promise<ReconcileTableResult> {
    const described = await source.describe(files.table)
    if (!described) return { ...base, status: 'skipped', reason: `the source has no table ${source.schema}.${files.table}` }
    const masked: Map<string, string> = options.lakeRoot ? maskingFor(options.lakeRoot).forTable(files.service, files.table) : new Map()
    const plan = await planTableCompare({
      db, engine, warehousePath: options.warehouse.path, files, tableConfig, described, masked, watermarks: manifest!.watermarks, config, readAt: source.asOf,
      ...(options.signal ? { signal: options.signal } : {}), logger,
    })
    if (plan.skipped !== undefined) return { ...base, status: 'skipped', reason: plan.skipped, columnsNotCompared: plan.notCompared }
    const { columns, notCompared, point } = plan
    const outcome = await compareTable({ source, ...plan.input })
    const differs = outcome.segments.length > 0 || outcome.unresolvedSegments > 0 || outcome.missingCount + outcome.extraCount + outcome.differentCount > 0
    const sampleKeys = [...outcome.missing, ...outcome.extra, ...outcome.different].slice(0, config.maxReportedKeys).map((r) => r.key)
    return {
      ...base,
      status: differs ? 'mismatch' : 'match',
      compared: { ...point.compared, sourceReadAt: source.asOf, replica: base.compared.replica },
      counts: outcome.counts,
      columnsCompared: columns.map((c) => c.name),
      columnsNotCompared: notCompared,
      differingSegments: outcome.segments,
      unresolvedSegments: outcome.unresolvedSegments,
      missingCount: outcome.missingCount, extraCount: outcome.extraCount, differentCount: outcome.differentCount,
      missing: outcome.missing, extra: outcome.extra, different: outcome.different, sampleKeys,
      transfer: { ...base.transfer, warehouseRowsFetched: outcome.warehouseRowsFetched },
    }
  }
}
