import { openDatabase, type Database } from '../../core/duckdb/index.ts'
import { maskingFor } from '../../ingest/pii/index.ts'
import { ColdpipeError, isColdpipeError, messageOf } from '../../core/errors.ts'
import { childLogger, newRunId, silentLogger, type Logger } from '../../core/logger.ts'
import type { ExportConfig, ExportTableConfig, SourceConfig } from '../../ingest/export/export-config.ts'
import { SourceGuard } from '../../ingest/export/source-guard.ts'
import type { SourceColumn } from '../../ingest/export/source-connector.ts'
import { exportWatermarkKey, isDiskFull, type Watermark } from '../../lake/index.ts'
import { SnapshotStore, type SnapshotManifest } from '../snapshot-store.ts'
import type { TableFiles } from '../table-files.ts'
import type { WarehouseConfig } from '../warehouse-config.ts'
import type { CompareColumn } from './canonical-sql.ts'
import { reconcileSettings, type ReconcileConfig } from './reconcile-config.ts'
import { resultsDir, saveResult, type ReconcileTableResult } from './reconcile-result.ts'
import { ReconcileSource } from './reconcile-source.ts'
import { compareTable, type Cutoff } from './reconcile-table.ts'
import { segmentCache } from './segment-cache.ts'

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
  // Not the readers' sandbox: coldpipe's own queries, which need the session in UTC (timestamps inside lists).
  const db = await openDatabase(store.databasePath(manifest.id), { readOnly: true, memoryLimit: options.warehouse.memoryLimit, threads: options.warehouse.threads, errorCode: 'RECONCILE_FAILED' })
  await db.run("SET TimeZone = 'UTC'")
  const engine = `duckdb ${(await db.all<{ v: string }>('SELECT version() AS v'))[0]?.v ?? ''}`
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
    const selected = tableConfig?.columns ? described.filter((c) => tableConfig.columns!.includes(c.name)) : described
    const relation = `${quote(files.service)}.${quote(files.table)}`
    const whColumns = new Map((await db.all<{ column_name: string; column_type: string }>(`DESCRIBE ${relation}`)).map((r) => [r.column_name, normalizeType(r.column_type)]))
    // Masked before landing (pii.columns): the lake holds no source value to compare with.
    const masked: Map<string, string> = options.lakeRoot ? maskingFor(options.lakeRoot).forTable(files.service, files.table) : new Map()
    const columns: CompareColumn[] = []
    const notCompared: { column: string; reason: string }[] = []
    for (const c of selected) {
      const whType = whColumns.get(c.name)
      if (masked.has(c.name)) notCompared.push({ column: c.name, reason: `masked in the warehouse (pii ${masked.get(c.name)})` })
      else if (whType === undefined) notCompared.push({ column: c.name, reason: 'not in the warehouse' })
      else columns.push(compareColumn(c, whType))
    }
    for (const name of whColumns.keys()) {
      if (name !== '_cp_deleted' && !selected.some((c) => c.name === name)) notCompared.push({ column: name, reason: 'not in the source' })
    }
    const keyNames = files.key.length ? files.key : tableConfig?.key ?? []
    const key = keyNames.map((k) => columns.find((c) => c.name === k))
    if (key.some((k) => !k)) return { ...base, status: 'skipped', reason: `key ${keyNames.join(', ')} is not comparable on both sides`, columnsNotCompared: notCompared }
    const point = comparePoint(files, tableConfig, described, manifest!.watermarks, config, source)
    const outcome = await compareTable({
      source, warehouse: db, sourceTable: files.table, warehouseRelation: relation,
      ...(whColumns.has('_cp_deleted') ? { warehouseWhere: 'NOT coalesce(_cp_deleted, false)' } : {}),
      ...(tableConfig?.where ? { sourceWhere: tableConfig.where } : {}),
      key: key as CompareColumn[], columns, ...(point.cutoff ? { cutoff: point.cutoff } : {}), settings: config, ...(options.signal ? { signal: options.signal } : {}), logger,
      // The current-state view's definition follows softDeletes, not the table's files.
      warehouseCache: segmentCache(options.warehouse.path, source.sourceName, files, `${engine} softDeletes=${options.warehouse.softDeletes}`),
    })
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

function quote(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

function findTableConfig(exports: ExportConfig[], source: string, table: string): ExportTableConfig | undefined {
  return exports.find((e) => e.source === source)?.tables?.find((t) => t.name === table)
}

/** DESCRIBE's long type names, as the export's short ones. */
function normalizeType(type: string): string {
  return type.replace(/TIMESTAMP WITH TIME ZONE/g, 'TIMESTAMPTZ').replace(/^FLOAT$/, 'REAL')
}

function compareColumn(c: SourceColumn, warehouseType: string): CompareColumn {
  const same = warehouseType === c.duckType || (c.duckType === 'JSON' && warehouseType === 'JSON')
  return { name: c.name, duckType: c.duckType, sourceSelect: c.selectExpr, ...(same ? {} : { warehouseType }) }
}

interface ComparePoint {
  compared: Omit<ReconcileTableResult['compared'], 'replica'>
  cutoff?: Cutoff
}

/**
 * What the comparison is taken at. Full exports: the export run's read, when a cursor says which rows changed
 * since (else the table as it is now). Incremental exports: rows at or below the watermark minus the lag.
 * Change-fed tables: rows at or below the last landed change minus the lag, when a cursor is configured.
 */
function comparePoint(files: TableFiles, table: ExportTableConfig | undefined, described: SourceColumn[], watermarks: Watermark[], config: ReconcileConfig, source: ReconcileSource): ComparePoint {
  const id = `${files.service}.${files.table}`
  const mark = files.kind === 'changes'
    ? watermarks.filter((w) => w.service === files.service && w.table === files.table).sort((a, b) => a.asOf.localeCompare(b.asOf)).at(-1)
    : watermarks.find((w) => w.key === exportWatermarkKey(files.service, files.table))
  const cursorName = files.kind === 'changes' ? config.cursors[id] : table?.cursor
  const cursor = cursorName ? described.find((c) => c.name === cursorName) : undefined
  const lagSeconds = Math.max(config.lagSeconds, table?.lagSeconds ?? 0)
  const whole = (why: string): ComparePoint => ({
    compared: { basis: 'current', description: `the whole table as the source holds it now (read at ${source.asOf}); ${why}`, ...(mark ? { watermark: mark.position, exportAsOf: mark.asOf } : {}) },
  })
  if (!cursor || !mark) return whole(cursorName && !cursor ? `cursor ${cursorName} is not a column of the source table` : 'no cursor says which rows changed since the last load, so changes since then count as differences')
  const temporal = /^(TIMESTAMP|TIMESTAMPTZ|DATE)$/.test(cursor.duckType)
  const integer = /INT/.test(cursor.duckType)
  if (!temporal && !integer) return whole(`cursor ${cursor.name} (${cursor.duckType}) is neither a time nor an integer`)
  const column: CompareColumn = { name: cursor.name, duckType: cursor.duckType, sourceSelect: cursor.selectExpr }
  const basis: ComparePoint['compared']['basis'] = files.kind === 'export-full' ? 'export-snapshot' : 'watermark'
  // Full exports read everything at asOf: rows changed later carry a later cursor. Incremental and change-fed
  // tables hold what was read up to the watermark; rows committed late may still be on their way.
  const anchor = files.kind === 'export-full' && temporal ? mark.asOf : mark.position
  if (anchor === null) return whole('the table has no watermark yet')
  let cutoff: Cutoff
  let cutoffText: string
  if (integer) {
    cutoff = { kind: 'integer', column, value: BigInt(anchor) }
    cutoffText = anchor
  } else {
    const micros = toMicros(anchor) - BigInt(lagSeconds) * 1_000_000n
    cutoffText = new Date(Number(micros / 1000n)).toISOString()
    cutoff = cursor.duckType === 'DATE' ? { kind: 'date', column, value: cutoffText.slice(0, 10) } : { kind: 'micros', column, value: micros }
  }
  const what = basis === 'export-snapshot'
    ? `the full export read at ${mark.asOf}: rows whose ${cursor.name} is after ${cutoffText} (that time minus ${lagSeconds}s lag) changed since and are counted as too new, not compared`
    : `rows whose ${cursor.name} is at or below ${cutoffText} (watermark ${mark.position}${integer ? '' : ` minus ${lagSeconds}s lag`}); later ones are counted as too new, not compared`
  return { compared: { basis, description: what, cursor: cursor.name, cutoff: cutoffText, watermark: mark.position, exportAsOf: mark.asOf }, cutoff }
}

/** `2026-01-01 00:41:40.5+00`, `2026-01-01T00:41:40Z`, `2026-01-01` → microseconds since the epoch (exact). */
export function toMicros(text: string): bigint {
  const m = /^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/.exec(text.trim())
  if (!m) throw new ColdpipeError('RECONCILE_FAILED', `cannot read the watermark ${JSON.stringify(text)} as a time`, { context: { watermark: text } })
  let zone = m[4] ?? 'Z'
  if (/^[+-]\d{2}$/.test(zone)) zone += ':00'
  else if (/^[+-]\d{4}$/.test(zone)) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`
  const seconds = Date.parse(`${m[1]}T${m[2] ?? '00:00:00'}${zone}`)
  if (Number.isNaN(seconds)) throw new ColdpipeError('RECONCILE_FAILED', `cannot read the watermark ${JSON.stringify(text)} as a time`, { context: { watermark: text } })
  const fraction = (m[3] ?? '').padEnd(6, '0').slice(0, 6)
  return BigInt(seconds) * 1000n + BigInt(fraction || '0')
}
