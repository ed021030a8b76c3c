import { createHash } from 'node:crypto'
import { rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { openDatabase, quoteIdent, quoteLiteral, type Database } from '../core/duckdb/index.ts'
import { ColdpipeError, messageOf } from '../core/errors.ts'
import { silentLogger, type Logger } from '../core/logger.ts'
import { CommitLog, type LakeFile } from '../lake/index.ts'
import { mergeStagedSql, readParquetSql, replaceStateSql, type MergeKind } from '../transform/merge/index.ts'
import { buildModels } from './build-models.ts'
import { isDiskFull } from '../lake/index.ts'
import { findUnreadableFiles, quarantineFiles, type StaleTable } from './quarantine.ts'
import { absoluteIn, createTableViews, currentStateSelect, maxHistoryFiles, newTableFile, readFilesSql, tablesDirName, writeTableFile, type TableFiles } from './table-files.ts'
import { acquirePublishLock } from './publish-lock.ts'
import { writeMetadata } from './metadata.ts'
import { SnapshotStore, type SnapshotManifest } from './snapshot-store.ts'
import type { WarehouseConfig } from './warehouse-config.ts'

export interface PublishOptions {
  lakeRoot: string
  warehouse: WarehouseConfig
  /** Folder of read models (`<name>.sql`). */
  models?: string
  logger?: Logger
  now?: () => Date
  /** Publish even when the lake has not changed since the last snapshot. */
  force?: boolean
  /** Test hook: called at named points of the build, may throw to simulate a crash. */
  failpoint?: (point: 'built' | 'before-publish') => void | Promise<void>
}

export type PublishResult = { published: true; manifest: SnapshotManifest } | { published: false; reason: string; current?: SnapshotManifest }

interface TablePlan {
  service: string
  table: string
  kind: MergeKind
  key: string[]
  rebuild: boolean
  files: LakeFile[]
  /** Commit version per file path, orders export runs. */
  seq: Map<string, number>
}

function tableId(file: { service: string; table: string }): string {
  return `${file.service}.${file.table}`
}

function kindOf(file: LakeFile): MergeKind {
  if (file.origin === 'export') return file.mode === 'incremental' ? 'export-incremental' : 'export-full'
  return 'changes'
}

/** Which files each table must read to go from the lake at `fromVersion` to `toVersion`. */
export async function planTables(log: CommitLog, requestedFrom: number | undefined, toVersion: number): Promise<TablePlan[]> {
  // A last snapshot whose lake version was expired from the log cannot be diffed: every table is rebuilt from the active set.
  // Compaction lineage (output → inputs): an output whose inputs were all merged already holds nothing new.
  const { fromVersion, before, now, addedIn: addedAt, compactedFrom } = await log.span(requestedFrom, toVersion, { ifExpired: 'rebuild' })
  const origins = new Map<string, Set<string>>()
  for (const file of now.values()) {
    const id = tableId(file)
    origins.set(id, (origins.get(id) ?? new Set()).add(file.origin === 'export' ? 'exports' : 'change events'))
  }
  for (const [id, from] of origins) {
    if (from.size > 1) {
      throw new ColdpipeError('WAREHOUSE_PUBLISH_FAILED', `table ${id} has files from exports and from change events; a table takes rows from one path (map the change topic to another table)`, {
        context: { table: id },
      })
    }
  }
  const plans = new Map<string, TablePlan>()
  const planFor = (file: LakeFile): TablePlan => {
    const id = tableId(file)
    let plan = plans.get(id)
    if (!plan) {
      plan = { service: file.service, table: file.table, kind: kindOf(file), key: file.key ?? [], rebuild: fromVersion === undefined, files: [], seq: addedAt }
      plans.set(id, plan)
    }
    if (file.key?.length && plan.key.length === 0) plan.key = file.key
    if (file.origin === 'export') plan.kind = kindOf(file)
    return plan
  }
  for (const file of now.values()) {
    if (before.has(file.path)) continue
    const inputs = compactedFrom.get(file.path)
    const merged = inputs?.filter((path) => before.has(path)).length ?? 0
    // Planned only when it holds something new: an empty plan would drop the table from the snapshot.
    if (inputs && merged === inputs.length) continue
    const plan = planFor(file)
    if (merged > 0) plan.rebuild = true
    plan.files.push(file)
  }
  for (const file of before.values()) {
    if (now.has(file.path)) continue
    const replacedByCompaction = [...compactedFrom.values()].some((inputs) => inputs.includes(file.path))
    if (!replacedByCompaction) planFor(file).rebuild = true
  }
  for (const plan of plans.values()) {
    if (plan.kind === 'export-full') plan.rebuild = true
    if (plan.rebuild) plan.files = [...now.values()].filter((file) => tableId(file) === tableId(plan))
  }
  return [...plans.values()]
}

async function columnsOf(db: Database, relation: string): Promise<Map<string, string>> {
  const rows = await db.all<{ column_name: string; column_type: string }>(`DESCRIBE ${relation}`)
  return new Map(rows.map((row) => [row.column_name, row.column_type]))
}

/** Adds columns the staged rows have and the table lacks (schema drift, unioned by name). */
async function addMissingColumns(db: Database, table: string, staged: Map<string, string>): Promise<void> {
  const existing = await columnsOf(db, table)
  for (const [name, type] of staged) {
    if (!existing.has(name)) await db.run(`ALTER TABLE ${table} ADD COLUMN ${quoteIdent(name)} ${type}`)
  }
}

function maskedSelect(plan: TablePlan, columns: Map<string, string>, warehouse: WarehouseConfig): string {
  const parts: string[] = []
  for (const name of columns.keys()) {
    const rule = warehouse.pii.find((p) => p.column === `${plan.service}.${plan.table}.${name}`)
    if (!rule) parts.push(quoteIdent(name))
    else if (rule.action === 'hash') {
      if (!warehouse.piiKey) throw new ColdpipeError('CONFIG_INVALID', `warehouse.piiKey is required to hash ${rule.column}`, { context: { field: 'warehouse.piiKey' } })
      parts.push(`CASE WHEN ${quoteIdent(name)} IS NULL THEN NULL ELSE sha256(${quoteLiteral(warehouse.piiKey)} || CAST(${quoteIdent(name)} AS VARCHAR)) END AS ${quoteIdent(name)}`)
    }
  }
  return parts.join(', ')
}

interface TableOutput {
  warehouseDir: string
  snapshotId: number
  /** The table's files in the previous snapshot; undefined when it is rebuilt. */
  previous: TableFiles | undefined
  /** Every table file this publish writes, removed again if it fails. */
  written: string[]
}

/**
 * Stages the plan's lake files, merges them into the table's previous state (read from its state file) in
 * temp tables, and writes a new state file and a history file; other tables' files are not touched.
 * Returns the table's new files, or undefined when the table no longer has any lake file.
 */
async function applyTable(db: Database, lakeRoot: string, plan: TablePlan, warehouse: WarehouseConfig, out: TableOutput): Promise<{ rows: number; files?: TableFiles }> {
  const layout = new CommitLog(lakeRoot).layout
  const history = 'staged_history'
  const state = 'staged_state'
  if (plan.files.length === 0) return { rows: 0 }
  const seqValues = plan.files.map((f) => `(${quoteLiteral(layout.absolute(f.path))}, ${plan.seq.get(f.path) ?? 0}, ${quoteLiteral(f.runId ?? '')})`).join(', ')
  const inFileSeq = plan.files.some((f) => f.columns?.some((c) => c.name === '_cp_seq'))
  const raw = plan.kind === 'changes'
    ? `SELECT * FROM ${readParquetSql(plan.files.map((f) => layout.absolute(f.path)))}`
    : inFileSeq
    // Compacted export files carry each row's `_cp_seq` / `_cp_run_id` (their inputs' commit and run).
    ? `SELECT r.* EXCLUDE (filename, _cp_seq, _cp_run_id), coalesce(r._cp_seq, m.seq) AS _cp_seq, coalesce(r._cp_run_id, m.run_id) AS _cp_run_id
       FROM read_parquet([${plan.files.map((f) => quoteLiteral(layout.absolute(f.path))).join(', ')}], union_by_name = true, hive_partitioning = false, filename = true) r
       JOIN (VALUES ${seqValues}) m(file, seq, run_id) ON r.filename = m.file`
    : `SELECT r.* EXCLUDE (filename), m.seq AS _cp_seq, m.run_id AS _cp_run_id
       FROM read_parquet([${plan.files.map((f) => quoteLiteral(layout.absolute(f.path))).join(', ')}], union_by_name = true, hive_partitioning = false, filename = true) r
       JOIN (VALUES ${seqValues}) m(file, seq, run_id) ON r.filename = m.file`
  await db.run(`CREATE OR REPLACE TEMP TABLE staged_raw AS ${raw}`)
  const rawColumns = await columnsOf(db, 'staged_raw')
  await db.run(`CREATE OR REPLACE TEMP TABLE staged AS SELECT ${maskedSelect(plan, rawColumns, warehouse)} FROM staged_raw; DROP TABLE staged_raw`)
  const stagedColumns = await columnsOf(db, 'staged')
  const n = Number((await db.all<{ n: bigint }>('SELECT count(*) AS n FROM staged'))[0]?.n ?? 0n)
  const previous = out.previous
  if (previous) {
    await db.run(`CREATE OR REPLACE TEMP TABLE ${state} AS SELECT * FROM ${readFilesSql([absoluteIn(out.warehouseDir, previous.state)])}`)
    await addMissingColumns(db, state, stagedColumns)
  } else {
    await db.run(`CREATE OR REPLACE TEMP TABLE ${state} AS SELECT * FROM staged LIMIT 0`)
  }
  const target = { history, state, key: plan.key, kind: plan.kind }
  // Without a key (e.g. integration events) there is nothing to merge: the table is append-only.
  const statements = plan.kind === 'export-full' ? replaceStateSql(target)
    : plan.key.length === 0 ? [`INSERT INTO ${state} BY NAME SELECT * FROM staged`]
    : mergeStagedSql(target)
  for (const sql of statements) await db.run(sql)
  const write = async (part: 'state' | 'history', selectSql: string): Promise<string> => {
    const path = newTableFile(plan, out.snapshotId, part)
    out.written.push(path)
    await writeTableFile(db, selectSql, absoluteIn(out.warehouseDir, path))
    return path
  }
  // A rebuilt full export staged one run (one `_cp_seq`): its state is exactly its history, so one file is both.
  const oneRun = plan.kind === 'export-full' && !previous && Number((await db.all<{ n: bigint }>('SELECT count(DISTINCT _cp_seq) AS n FROM staged'))[0]?.n ?? 0n) <= 1
  let statePath: string | undefined
  let historyFiles: string[]
  if (oneRun) {
    statePath = await write('state', `SELECT * FROM ${state}`)
    historyFiles = [statePath]
  } else {
    historyFiles = [...(previous?.history ?? []), await write('history', 'SELECT * FROM staged')]
  }
  await db.run('DROP TABLE staged')
  if (historyFiles.length > maxHistoryFiles) {
    historyFiles = [await write('history', `SELECT * FROM ${readFilesSql(historyFiles.map((p) => absoluteIn(out.warehouseDir, p)))}`)]
  }
  statePath ??= await write('state', `SELECT * FROM ${state}`)
  const stateColumns = [...(await columnsOf(db, state)).keys()]
  const files: TableFiles = {
    service: plan.service, table: plan.table, kind: plan.kind, key: plan.key, state: statePath, history: historyFiles,
    rows: 0, historyRows: (previous?.historyRows ?? 0) + n, stateColumns,
  }
  const live = currentStateSelect(files, state, warehouse.softDeletes)
  files.rows = Number((await db.all<{ n: bigint }>(`SELECT count(*) AS n FROM (${live})`))[0]?.n ?? 0n)
  await db.run(`DROP TABLE ${state}`)
  return { rows: n, files }
}

/**
 * Publishes snapshot N+1: applies only the lake files committed since N's lake version to the tables they
 * belong to (writing those tables' new files; tables whose files were removed are rebuilt), points views at
 * every table's files, builds read models, runs data tests, and swaps the current pointer. An unreadable
 * lake file is quarantined and its table kept stale; any other failure leaves N current and removes
 * everything the build wrote.
 */
export async function publish(options: PublishOptions): Promise<PublishResult> {
  const release = await acquirePublishLock(options.warehouse.path)
  try {
    return await publishLocked(options)
  } finally {
    await release()
  }
}

async function publishLocked(options: PublishOptions): Promise<PublishResult> {
  const logger = options.logger ?? silentLogger
  const now = options.now ?? (() => new Date())
  const store = new SnapshotStore(options.warehouse.path)
  // Where a publish spends its time, per phase, in the manifest and the log: what grows shows there first.
  const phaseMs: Record<string, number> = {}
  let phaseStart = performance.now()
  const phase = (name: string): void => {
    const at = performance.now()
    phaseMs[name] = Math.round((at - phaseStart) * 10) / 10
    phaseStart = at
  }
  const log = await CommitLog.open(options.lakeRoot, { logger })
  const previous = await store.current()
  const lakeVersion = log.latestVersion
  if (previous && previous.lakeVersion === lakeVersion && !options.force) {
    logger.info({ snapshot: previous.id, lakeVersion }, 'lake unchanged since the last snapshot; nothing published')
    return { published: false, reason: `lake unchanged since snapshot ${previous.id} (version ${lakeVersion})`, current: previous }
  }
  // Masking and soft deletes shape stored rows: when they change, every table is rebuilt from the lake. So is
  // a snapshot of the older self-contained layout, which has no table files to point at.
  const shape = JSON.stringify({ pii: options.warehouse.pii, piiKey: options.warehouse.piiKey ?? null, softDeletes: options.warehouse.softDeletes })
  const configHash = createHash('sha256').update(shape).digest('hex').slice(0, 16)
  const reusable = previous !== undefined && previous.info?.configHash === configHash && previous.tableFiles !== undefined
  const tables = new Map(Object.entries(reusable ? previous.tableFiles! : {}))
  const stale = new Map((reusable ? previous.stale ?? [] : []).map((s) => [s.table, s]))
  // Read before any quarantine commit of this publish moves the log on (and may checkpoint past lakeVersion).
  const lakeMarks = [...log.watermarks(lakeVersion).values()]
  const plans = holdStaleTables(log, lakeVersion, await planTables(log, reusable ? previous.lakeVersion : undefined, lakeVersion), stale)
  const id = await store.nextId()
  const warehouseDir = resolve(options.warehouse.path)
  const written: string[] = []
  const buildPath = await store.newBuildPath()
  let db: Database | undefined
  try {
    db = await openDatabase(buildPath, { memoryLimit: options.warehouse.memoryLimit, threads: options.warehouse.threads, errorCode: 'WAREHOUSE_PUBLISH_FAILED' })
    const info = { configHash, filesRead: 0, rowsMerged: 0, tablesRebuilt: [] as string[], tablesMerged: [] as string[], tablesKept: 0, models: [] as string[],
      dataTests: { passed: 0, warned: 0 }, quarantined: [] as { path: string; table: string; reason: string }[], phaseMs }
    phase('plan')
    for (const plan of plans) {
      const table = tableId(plan)
      const before = written.length
      try {
        const { rows, files } = await applyTable(db, options.lakeRoot, plan, options.warehouse, { warehouseDir, snapshotId: id, previous: plan.rebuild ? undefined : tables.get(table), written })
        if (files) tables.set(table, files)
        else tables.delete(table)
        stale.delete(table)
        info.filesRead += plan.files.length
        info.rowsMerged += rows
        ;(plan.rebuild ? info.tablesRebuilt : info.tablesMerged).push(table)
      } catch (error) {
        if (await isDiskFull(error, warehouseDir)) throw error
        const unreadable = await findUnreadableFiles(db, log, plan.files)
        if (unreadable.length === 0) throw error
        // Quarantine, don't block: the table keeps its previous files and is marked stale; the others go on.
        await db.run('DROP TABLE IF EXISTS staged_raw; DROP TABLE IF EXISTS staged; DROP TABLE IF EXISTS staged_state; DROP TABLE IF EXISTS latest')
        for (const path of written.splice(before)) await rm(absoluteIn(warehouseDir, path), { force: true })
        const quarantineVersion = await quarantineFiles(log, unreadable, `publish-${id}`, logger)
        const reason = unreadable.map((u) => u.error.message).join('; ')
        stale.set(table, { table, service: plan.service, name: plan.table, code: 'LAKE_FILE_CORRUPT', reason, files: unreadable.map((u) => u.file.path), since: now().toISOString(), quarantineVersion })
        for (const u of unreadable) info.quarantined.push({ path: u.file.path, table, reason: u.error.message })
      }
    }
    phase('tables')
    const touched = new Set([...info.tablesMerged, ...info.tablesRebuilt])
    info.tablesKept = [...tables.keys()].filter((table) => !touched.has(table)).length
    const knownRows = new Map<string, number>()
    for (const files of tables.values()) {
      await createTableViews(db, warehouseDir, files, options.warehouse.softDeletes)
      knownRows.set(`${files.service}.${files.table}`, files.rows)
      knownRows.set(`${files.service}.${files.table}__history`, files.historyRows)
    }
    phase('views')
    const publishedAt = now()
    const models = await buildModels(db, options.models)
    info.models = models
    phase('models')
    // A stale table shows the watermarks of the state it kept, not those of the data it could not read.
    const staleIds = new Set(stale.keys())
    const watermarks = [
      ...lakeMarks.filter((w) => !staleIds.has(`${w.service}.${w.table}`)),
      ...(reusable ? previous.watermarks.filter((w) => staleIds.has(`${w.service}.${w.table}`)) : []),
    ]
    const staleTables = [...stale.values()]
    const snapshotTables = await writeMetadata(db, { id, publishedAt, lakeVersion, watermarks, knownRows, stale: staleTables })
    const { runDataTests } = await import('./data-tests.ts')
    info.dataTests = await runDataTests(db, { modelsDir: options.models, watermarks, now: publishedAt })
    phase('tests')
    await options.failpoint?.('built')
    await db.run('CHECKPOINT')
    db.close()
    db = undefined
    phase('checkpoint')
    await options.failpoint?.('before-publish')
    const manifest = await store.publish(buildPath, {
      id,
      publishedAt: publishedAt.toISOString(),
      lakeVersion,
      watermarks,
      tables: snapshotTables,
      ...(reusable ? { basedOn: previous.id } : {}),
      tableFiles: Object.fromEntries(tables),
      tablesDir: join(warehouseDir, tablesDirName),
      ...(staleTables.length ? { stale: staleTables } : {}),
      info,
    })
    phase('swap')
    if (staleTables.length) logger.warn({ snapshot: id, stale: staleTables.map((s) => ({ table: s.table, reason: s.reason })) }, 'snapshot published with stale tables')
    logger.info({ snapshot: id, lakeVersion, ...info }, 'snapshot published')
    return { published: true, manifest }
  } catch (error) {
    const full = await isDiskFull(error, warehouseDir)
    db?.close()
    await removeBuild(buildPath, warehouseDir, written)
    if (full) {
      throw new ColdpipeError('WAREHOUSE_DISK_FULL', `no space left on the warehouse's volume publishing snapshot ${id} into ${warehouseDir}; snapshot ${previous?.id ?? '(none)'} stays current`, {
        cause: error,
        context: { path: warehouseDir, snapshot: id, current: previous?.id ?? null },
      })
    }
    if (error instanceof ColdpipeError) throw error
    throw new ColdpipeError('WAREHOUSE_PUBLISH_FAILED', `publish failed: ${messageOf(error)}`, { cause: error })
  }
}

/** Removes everything a failed build wrote: the DuckDB file, its WAL and spill folder, and new table files. */
async function removeBuild(buildPath: string, warehouseDir: string, written: string[]): Promise<void> {
  await rm(buildPath, { force: true })
  await rm(`${buildPath}.wal`, { force: true })
  await rm(`${buildPath}.tmp`, { recursive: true, force: true })
  for (const path of written) await rm(absoluteIn(warehouseDir, path), { force: true })
}

/**
 * A table stale since a quarantine keeps its previous state until data landed after the quarantine: then it is
 * rebuilt from every active file, so nothing merged on top of the gap. Until then its plan (the quarantine's
 * own removal) is dropped; a full export would otherwise be rebuilt from a run missing the quarantined part.
 */
function holdStaleTables(log: CommitLog, lakeVersion: number, plans: TablePlan[], stale: Map<string, StaleTable>): TablePlan[] {
  let active: LakeFile[] | undefined
  return plans.flatMap((plan) => {
    const mark = stale.get(tableId(plan))
    if (!mark) return [plan]
    const fresh = plan.files.some((f) => (plan.seq.get(f.path) ?? -1) > mark.quarantineVersion)
    if (!fresh) return []
    active ??= [...log.activeFiles(lakeVersion).values()]
    return [{ ...plan, rebuild: true, files: active.filter((f) => tableId(f) === tableId(plan)) }]
  })
}
