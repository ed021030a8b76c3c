import { openDatabase, type Database } from '../../core/duckdb/index.ts'
import { ColdpipeError } from '../../core/errors.ts'
import type { Logger } from '../../core/logger.ts'
import type { ExportConfig, ExportTableConfig } from '../../ingest/export/export-config.ts'
import { exportWatermarkKey, type Watermark } from '../../lake/index.ts'
import type { TableFiles } from '../table-files.ts'
import type { WarehouseConfig } from '../warehouse-config.ts'
import type { CompareColumn } from './canonical-sql.ts'
import type { ReconcileConfig } from './reconcile-config.ts'
import type { ReconcileTableResult } from './reconcile-result.ts'
import type { Cutoff, TableCompareInput } from './reconcile-table.ts'
import { segmentCache } from './segment-cache.ts'

/**
 * What one table's comparison covers: which columns, in which order, and at which compare point. Shared by the
 * reconciliation (source columns from the source's catalog) and the warehouse side's precompute after a publish
 * (source columns as the export recorded them in the lake), so both build the same warehouse statement.
 */

/** A source column as far as the plan needs it: name, the DuckDB type the export lands it as, its SELECT text. */
export interface PlannedSourceColumn {
  name: string
  duckType: string
  selectExpr: string
}

export interface ColumnPlan {
  columns: CompareColumn[]
  notCompared: { column: string; reason: string }[]
}

export function findTableConfig(exports: ExportConfig[], source: string, table: string): ExportTableConfig | undefined {
  return exports.find((e) => e.source === source)?.tables?.find((t) => t.name === table)
}

/**
 * A snapshot's DuckDB file opened for reconciling (read-only, the session in UTC: timestamps inside lists), and
 * what renders its side: the engine's version and the view's soft-delete rule, which kept checksums depend on.
 */
export async function openSnapshotForReconcile(path: string, warehouse: WarehouseConfig): Promise<{ db: Database; engine: string }> {
  const db = await openDatabase(path, { readOnly: true, memoryLimit: warehouse.memoryLimit, threads: warehouse.threads, errorCode: 'RECONCILE_FAILED' })
  try {
    await db.run("SET TimeZone = 'UTC'")
    const version = (await db.all<{ v: string }>('SELECT version() AS v'))[0]?.v ?? ''
    return { db, engine: `duckdb ${version} softDeletes=${warehouse.softDeletes}` }
  } catch (error) {
    db.close()
    throw error
  }
}

/** The table's current-state view in the snapshot, e.g. `"shop"."orders"`. */
export function warehouseRelation(files: Pick<TableFiles, 'service' | 'table'>): string {
  const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`
  return `${quote(files.service)}.${quote(files.table)}`
}

/** The filter of the view's live rows, given its columns: soft-deleted rows are not compared. */
export function liveRowsWhere(columns: Map<string, string>): { warehouseWhere?: string } {
  return columns.has('_cp_deleted') ? { warehouseWhere: 'NOT coalesce(_cp_deleted, false)' } : {}
}

/** The key columns among the compared ones, or undefined when one is not compared on both sides. */
export function planKey(files: Pick<TableFiles, 'key'>, table: ExportTableConfig | undefined, columns: CompareColumn[]): { names: string[]; key?: CompareColumn[] } {
  const names = files.key.length ? files.key : table?.key ?? []
  const key = names.map((k) => columns.find((c) => c.name === k))
  return key.some((k) => !k) ? { names } : { names, key: key as CompareColumn[] }
}

/** The current-state view's columns and types (DuckDB's), in the view's order. */
export async function warehouseColumns(db: Database, relation: string): Promise<Map<string, string>> {
  return new Map((await db.all<{ column_name: string; column_type: string }>(`DESCRIBE ${relation}`)).map((r) => [r.column_name, normalizeType(r.column_type)]))
}

/** DESCRIBE's long type names, as the export's short ones. */
export function normalizeType(type: string): string {
  return type.replace(/TIMESTAMP WITH TIME ZONE/g, 'TIMESTAMPTZ').replace(/^FLOAT$/, 'REAL')
}

/**
 * The compared columns in the warehouse's column order (not the source's: the precompute knows only the
 * warehouse's and the lake's), each with the source's type; masked columns and columns one side lacks are listed
 * as not compared.
 */
export function planColumns(described: PlannedSourceColumn[], table: ExportTableConfig | undefined, warehouseColumns: Map<string, string>, masked: Map<string, string>): ColumnPlan {
  const selected = table?.columns ? described.filter((c) => table.columns!.includes(c.name)) : described
  const byName = new Map(selected.map((c) => [c.name, c]))
  const columns: CompareColumn[] = []
  const notCompared: ColumnPlan['notCompared'] = []
  for (const [name, whType] of warehouseColumns) {
    const c = byName.get(name)
    if (name === '_cp_deleted') continue
    if (!c) notCompared.push({ column: name, reason: 'not in the source' })
    // Masked before landing (pii.columns): the lake holds no source value to compare with.
    else if (masked.has(name)) notCompared.push({ column: name, reason: `masked in the warehouse (pii ${masked.get(name)})` })
    else columns.push(compareColumn(c, whType))
  }
  for (const c of selected) if (!warehouseColumns.has(c.name)) notCompared.push({ column: c.name, reason: 'not in the warehouse' })
  return { columns, notCompared }
}

function compareColumn(c: PlannedSourceColumn, warehouseType: string): CompareColumn {
  const same = warehouseType === c.duckType || (c.duckType === 'JSON' && warehouseType === 'JSON')
  return { name: c.name, duckType: c.duckType, sourceSelect: c.selectExpr, ...(same ? {} : { warehouseType }) }
}

export interface TablePlanInput {
  /** The snapshot opened by openSnapshotForReconcile, and its engine text. */
  db: Database
  engine: string
  warehousePath: string
  files: TableFiles
  tableConfig: ExportTableConfig | undefined
  /** The source's columns: from its catalog (reconciliation) or as the export recorded them (precompute). */
  described: PlannedSourceColumn[]
  masked: Map<string, string>
  watermarks: Watermark[]
  config: ReconcileConfig
  readAt: string
  signal?: AbortSignal
  logger: Logger
}

export type TablePlan =
  | { skipped: string; notCompared: ColumnPlan['notCompared'] }
  | { skipped?: undefined; columns: CompareColumn[]; notCompared: ColumnPlan['notCompared']; point: ComparePoint; input: Omit<TableCompareInput, 'source'> }

/**
 * One table's comparison as the reconciliation and the precompute both build it (so both give the warehouse the
 * same statement and share kept segments): columns, key, compare point and compareTable's input without its
 * source; or why the table is skipped.
 */
export async function planTableCompare(plan: TablePlanInput): Promise<TablePlan> {
  const { db, files, tableConfig } = plan
  const relation = warehouseRelation(files)
  const whColumns = await warehouseColumns(db, relation)
  const { columns, notCompared } = planColumns(plan.described, tableConfig, whColumns, plan.masked)
  const { names, key } = planKey(files, tableConfig, columns)
  if (!key) return { skipped: `key ${names.join(', ')} is not comparable on both sides`, notCompared }
  const point = comparePoint(files, tableConfig, plan.described, plan.watermarks, plan.config, plan.readAt)
  const input: Omit<TableCompareInput, 'source'> = {
    warehouse: db, sourceTable: files.table, warehouseRelation: relation, ...liveRowsWhere(whColumns),
    ...(tableConfig?.where ? { sourceWhere: tableConfig.where } : {}),
    key, columns, ...(point.cutoff ? { cutoff: point.cutoff } : {}), settings: plan.config, ...(plan.signal ? { signal: plan.signal } : {}), logger: plan.logger,
    warehouseCache: segmentCache(plan.warehousePath, files.service, files, plan.engine),
  }
  return { columns, notCompared, point, input }
}

export interface ComparePoint {
  compared: Omit<ReconcileTableResult['compared'], 'replica'>
  cutoff?: Cutoff
}

/**
 * What the comparison is taken at. Full exports: the export run's read, when a cursor says which rows changed
 * since (else the table as it is now). Incremental exports: rows at or below the watermark minus the lag.
 * Change-fed tables: rows at or below the last landed change minus the lag, when a cursor is configured.
 * `readAt`: when the source's read began (only described).
 */
export function comparePoint(files: TableFiles, table: ExportTableConfig | undefined, described: PlannedSourceColumn[], watermarks: Watermark[], config: ReconcileConfig, readAt: string): ComparePoint {
  const id = `${files.service}.${files.table}`
  const mark = files.kind === 'changes'
    ? watermarks.filter((w) => w.service === files.service && w.table === files.table).sort((a, b) => a.asOf.localeCompare(b.asOf)).at(-1)
    : watermarks.find((w) => w.key === exportWatermarkKey(files.service, files.table))
  const cursorName = files.kind === 'changes' ? config.cursors[id] : table?.cursor
  const cursor = cursorName ? described.find((c) => c.name === cursorName) : undefined
  const lagSeconds = Math.max(config.lagSeconds, table?.lagSeconds ?? 0)
  const whole = (why: string): ComparePoint => ({
    compared: { basis: 'current', description: `the whole table as the source holds it now (read at ${readAt}); ${why}`, ...(mark ? { watermark: mark.position, exportAsOf: mark.asOf } : {}) },
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
