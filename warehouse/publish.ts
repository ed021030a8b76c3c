import { createHash } from 'node:crypto'
import { rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { openDatabase, type Database, type OpenDatabaseOptions } from '../core/duckdb/index.ts'
import { ColdpipeError, messageOf } from '../core/errors.ts'
import { silentLogger, type Logger } from '../core/logger.ts'
import { CommitLog, type LakeFile } from '../lake/index.ts'
import { applyTable, dropStagingTables } from './apply-table.ts'
import { planTables, tableId, type TablePlan } from './table-plan.ts'
import { buildModels } from './build-models.ts'
import { isDiskFull } from '../lake/index.ts'
import { findUnreadableFiles, quarantineFiles, type StaleTable } from './quarantine.ts'
import { absoluteIn, createTableViews, dropTableViews, tablesDirName } from './table-files.ts'
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
  // Soft deletes shape stored rows: when they change, every table is rebuilt from the lake. So is a snapshot of
  // the older self-contained layout, which has no table files to point at. (Masking happens before landing.)
  const shape = JSON.stringify({ softDeletes: options.warehouse.softDeletes })
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
    const dbOptions = { memoryLimit: options.warehouse.memoryLimit, threads: options.warehouse.threads, errorCode: 'WAREHOUSE_PUBLISH_FAILED' } as const
    // Views hold absolute paths: the previous file is a valid start only while the warehouse has not moved.
    const opened = reusable && previous.tablesDir === join(warehouseDir, tablesDirName) ? await openCopyOf(store, previous, buildPath, dbOptions, logger) : undefined
    const base = opened ? previous : undefined
    db = opened ?? (await openDatabase(buildPath, dbOptions))
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
        await dropStagingTables(db)
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
    await db.run('BEGIN TRANSACTION')
    for (const [table, files] of tables) {
      if (!base || touched.has(table)) await createTableViews(db, warehouseDir, files, options.warehouse.softDeletes)
      knownRows.set(`${files.service}.${files.table}`, files.rows)
      knownRows.set(`${files.service}.${files.table}__history`, files.historyRows)
    }
    for (const [table, files] of Object.entries(base?.tableFiles ?? {})) if (!tables.has(table)) await dropTableViews(db, files)
    await db.run('COMMIT')
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

/**
 * Starts the build from a copy of the previous snapshot's file. A build from scratch is always correct, only
 * slower, so a copy that fails or does not open (a damaged file) is logged and the build starts from an empty file.
 */
async function openCopyOf(store: SnapshotStore, previous: SnapshotManifest, buildPath: string, dbOptions: OpenDatabaseOptions, logger: Logger): Promise<Database | undefined> {
  try {
    await store.copyForBuild(previous.id, buildPath)
    return await openDatabase(buildPath, dbOptions)
  } catch (error) {
    if (await isDiskFull(error, store.tmpDir)) throw error
    await rm(buildPath, { force: true })
    await rm(`${buildPath}.wal`, { force: true })
    logger.warn({ err: error, snapshot: previous.id }, 'previous snapshot file not usable as a start; building the next one from scratch')
    return undefined
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
