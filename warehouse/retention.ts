import { readdir, rm, rmdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { ColdpipeError } from '../core/errors.ts'
import { silentLogger, type Logger } from '../core/logger.ts'
import { CommitLog, expireLog, removeStaleTemps, type CommitLogConfig } from '../lake/index.ts'
import { maintenanceDefaults, type RetentionConfig } from './maintenance-config.ts'
import { recordedMaintenance } from './maintenance-record.ts'
import { SnapshotStore } from './snapshot-store.ts'
import type { WarehouseConfig } from './warehouse-config.ts'

export interface RetentionOptions {
  lakeRoot: string
  warehouse: Pick<WarehouseConfig, 'path' | 'keepSnapshots' | 'keepForHours'>
  /** `warehouse.maintenance.retention`; omitted settings take `maintenanceDefaults.retention`. */
  config?: Partial<RetentionConfig>
  /** Shorthand for `config.graceMs`. */
  orphanGraceMs?: number
  /** Commit-log expiry (`expireLog`): `expireKeepCommits`, `expireOlderThanMs`. */
  log?: Partial<Pick<CommitLogConfig, 'expireKeepCommits' | 'expireOlderThanMs'>>
  now?: Date
  logger?: Logger
}

export interface RetentionResult {
  snapshotsRemoved: number[]
  /** Data files the log removed (full-export replacement, compaction, quarantine), past the grace period. */
  lakeFilesRemoved: string[]
  /** Data files at final paths no commit added (crashed writers), past the grace period. */
  orphansRemoved: string[]
  tempsRemoved: number
  /** Warehouse table files (`<warehouse>/tables/`) no kept snapshot references, past the grace period. */
  tableFilesRemoved: number
  deadLettersRemoved: number
  /** Quarantined copies of unreadable files, kept as long as dead letters. */
  quarantinedRemoved: number
  /** Export run records (`_state/export-runs/<runId>/`). */
  runRecordsRemoved: number
  commitsExpired: number
  checkpointsExpired: number
}

const dayMs = 86_400_000

async function listFiles(dir: string): Promise<string[]> {
  let entries
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true })
  } catch {
    return []
  }
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name))
}

async function mtimeMs(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mtimeMs
  } catch {
    // Removed meanwhile by another process.
    return undefined
  }
}

/** Removes files under `dir` last written before `before` (ms), then the folders that left empty. */
async function removeOlderThan(dir: string, before: number): Promise<number> {
  let removed = 0
  for (const file of await listFiles(dir)) {
    const at = await mtimeMs(file)
    if (at === undefined || at >= before) continue
    await rm(file, { force: true })
    removed++
  }
  if (removed > 0) await removeEmptyFolders(dir, false)
  return removed
}

async function removeEmptyFolders(dir: string, self: boolean): Promise<void> {
  let entries
  try {
    entries = await readdir(dir, { withFileTypes: true })
  } catch {
    return
  }
  for (const entry of entries) if (entry.isDirectory()) await removeEmptyFolders(join(dir, entry.name), true)
  // rmdir refuses a folder that is not empty (a writer just added a file): that folder simply stays.
  if (self) await rmdir(dir).catch(() => undefined)
}

/** Snapshots outside the keep policy (never the current one). */
async function removeSnapshots(options: RetentionOptions, now: Date): Promise<number[]> {
  const store = new SnapshotStore(options.warehouse.path)
  const ids = await store.list()
  const current = await store.currentId()
  const keepNewest = new Set(ids.slice(-options.warehouse.keepSnapshots))
  const removed: number[] = []
  for (const id of ids) {
    if (id === current || keepNewest.has(id)) continue
    const manifest = await store.get(id)
    const ageHours = (now.getTime() - Date.parse(manifest.publishedAt)) / 3_600_000
    if (options.warehouse.keepForHours !== undefined && ageHours <= options.warehouse.keepForHours) continue
    await store.remove(id)
    removed.push(id)
  }
  return removed
}

/**
 * Removes what nothing needs any more, each kind by a rule that follows change, not history:
 * snapshots outside the keep policy; lake data files the log removed (the log's tombstones, kept for a
 * while after each removal) once past the grace period, since publish reads only active files; orphans
 * of crashed writers (at a final path, not active, not tombstoned) past the grace period; stale temps;
 * dead letters, quarantined copies and export run records past their age; and old commits (`expireLog`).
 * Every pass lists only what the lake holds now, which retention itself keeps bounded.
 * Retention writes no commit, so it never triggers a publish.
 */
export function applyRetention(options: RetentionOptions): Promise<RetentionResult> {
  return recordedMaintenance(options.lakeRoot, 'retention', summarizeRetention, () => retain(options), options.logger)
}

/** Counts only: a run record or status line must not grow with the number of files removed. */
export function summarizeRetention(result: RetentionResult): Record<string, unknown> {
  return { ...result, snapshotsRemoved: result.snapshotsRemoved.length, lakeFilesRemoved: result.lakeFilesRemoved.length, orphansRemoved: result.orphansRemoved.length }
}

async function retain(options: RetentionOptions): Promise<RetentionResult> {
  const logger = options.logger ?? silentLogger
  const now = options.now ?? new Date()
  const config: RetentionConfig = { ...maintenanceDefaults.retention, ...options.config, ...(options.orphanGraceMs !== undefined ? { graceMs: options.orphanGraceMs } : {}) }
  const grace = config.graceMs
  const snapshotsRemoved = await removeSnapshots(options, now)

  const log = await CommitLog.open(options.lakeRoot, { logger })
  if (log.settings.keepTombstonesForMs < grace) {
    // A file whose tombstone is gone counts as an orphan aged by its mtime, which may be long past: it
    // would be deleted at once, under a publish that started before its removal.
    throw new ColdpipeError(
      'CONFIG_INVALID',
      `lake setting keepTombstonesForMs (${log.settings.keepTombstonesForMs} ms, ${log.layout.formatFile}) is shorter than retention's graceMs (${grace} ms); removed files would be deleted within their grace period`,
      { context: { path: 'keepTombstonesForMs', keepTombstonesForMs: log.settings.keepTombstonesForMs, graceMs: grace } },
    )
  }
  const active = log.activeFiles()
  const tombstones = log.tombstones()
  const lakeFilesRemoved: string[] = []
  const orphansRemoved: string[] = []
  const orphans: { path: string; absolute: string }[] = []
  for (const top of ['raw', 'compacted']) {
    for (const absolute of await listFiles(join(options.lakeRoot, top))) {
      const path = log.layout.relative(absolute)
      if (active.has(path)) continue
      const tombstone = tombstones.get(path)
      if (tombstone) {
        // A publish that started before the removal may still be reading it.
        if (now.getTime() - Date.parse(tombstone.removedAt) < grace) continue
        await rm(absolute, { force: true })
        lakeFilesRemoved.push(path)
        continue
      }
      // Not active and not recently removed: an orphan, or a file removed longer ago than the log keeps
      // tombstones; either way only a writer still running could want it, hence the grace on its age.
      const at = await mtimeMs(absolute)
      if (at !== undefined && now.getTime() - at >= grace) orphans.push({ path, absolute })
    }
  }
  // Re-check once: a writer may have committed one of them since the active set was read.
  await log.refresh()
  const activeNow = log.activeFiles()
  for (const { path, absolute } of orphans) {
    if (activeNow.has(path)) continue
    await rm(absolute, { force: true })
    orphansRemoved.push(path)
  }
  const store = new SnapshotStore(options.warehouse.path)
  const tempsRemoved = (await removeStaleTemps(store.tmpDir, grace, now.getTime())) + (await removeStaleTemps(log.layout.tmpDir, grace, now.getTime()))
  // After removeSnapshots: a table file lives as long as any kept snapshot's views read it.
  const tableFilesRemoved = (await store.removeUnreferencedTableFiles(grace, now.getTime())).length
  const deadLettersRemoved = await removeOlderThan(log.layout.deadDir, now.getTime() - config.deadLetterKeepDays * dayMs)
  const quarantinedRemoved = await removeOlderThan(log.layout.quarantineDir, now.getTime() - config.deadLetterKeepDays * dayMs)
  const runRecordsRemoved = await removeOlderThan(log.layout.exportRunsDir, now.getTime() - config.runRecordKeepDays * dayMs)
  const expired = await expireLog(options.lakeRoot, {
    now,
    logger,
    ...(options.log?.expireKeepCommits !== undefined ? { keepCommits: options.log.expireKeepCommits } : {}),
    ...(options.log?.expireOlderThanMs !== undefined ? { olderThanMs: options.log.expireOlderThanMs } : {}),
  })
  const result: RetentionResult = {
    snapshotsRemoved,
    lakeFilesRemoved,
    orphansRemoved,
    tempsRemoved,
    tableFilesRemoved,
    deadLettersRemoved,
    quarantinedRemoved,
    runRecordsRemoved,
    commitsExpired: expired.commitsRemoved,
    checkpointsExpired: expired.checkpointsRemoved,
  }
  logger.info({ ...summarizeRetention(result) }, 'retention applied')
  return result
}
