import { readdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { silentLogger, type Logger } from '../core/logger.ts'
import { CommitLog, removeStaleTemps } from '../lake/index.ts'
import { SnapshotStore } from './snapshot-store.ts'
import type { WarehouseConfig } from './warehouse-config.ts'

export interface RetentionOptions {
  lakeRoot: string
  warehouse: Pick<WarehouseConfig, 'path' | 'keepSnapshots' | 'keepForHours'>
  now?: Date
  /** Orphans and temp files younger than this may belong to a writer still running (default 1 h). */
  orphanGraceMs?: number
  logger?: Logger
}

export interface RetentionResult {
  snapshotsRemoved: number[]
  lakeFilesRemoved: string[]
  orphansRemoved: string[]
  tempsRemoved: number
}

async function listFiles(dir: string): Promise<string[]> {
  let entries
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true })
  } catch {
    return []
  }
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name))
}

/**
 * Removes snapshots outside the keep policy (never the current one) and lake data files nothing needs:
 * snapshots are self-contained copies, and publish reads only files active in the latest lake version,
 * so a file the log removed (full-export replacement, compaction) is never read again. Files at final
 * paths that no commit ever added are orphans of crashed writers, removed after a grace period.
 */
export async function applyRetention(options: RetentionOptions): Promise<RetentionResult> {
  const logger = options.logger ?? silentLogger
  const now = options.now ?? new Date()
  const grace = options.orphanGraceMs ?? 3_600_000
  const store = new SnapshotStore(options.warehouse.path)
  const ids = await store.list()
  const current = await store.currentId()
  const keepNewest = new Set(ids.slice(-options.warehouse.keepSnapshots))
  const snapshotsRemoved: number[] = []
  for (const id of ids) {
    if (id === current || keepNewest.has(id)) continue
    const manifest = await store.get(id)
    const ageHours = (now.getTime() - Date.parse(manifest.publishedAt)) / 3_600_000
    if (options.warehouse.keepForHours !== undefined && ageHours <= options.warehouse.keepForHours) continue
    await store.remove(id)
    snapshotsRemoved.push(id)
  }
  const log = await CommitLog.open(options.lakeRoot)
  const active = log.activeFiles()
  const everAdded = new Set<string>()
  const removedAt = new Map<string, number>()
  for (const commit of log.all()) {
    for (const file of commit.add) everAdded.add(file.path)
    for (const path of commit.remove) removedAt.set(path, Date.parse(commit.committedAt))
  }
  const lakeFilesRemoved: string[] = []
  const orphansRemoved: string[] = []
  for (const top of ['raw', 'compacted']) {
    for (const absolute of await listFiles(join(options.lakeRoot, top))) {
      const path = log.layout.relative(absolute)
      if (active.has(path)) continue
      if (everAdded.has(path)) {
        // A publish that started before the removal may still be reading it.
        if (now.getTime() - (removedAt.get(path) ?? 0) < grace) continue
        await rm(absolute, { force: true })
        lakeFilesRemoved.push(path)
      } else if (now.getTime() - (await stat(absolute)).mtimeMs >= grace) {
        await rm(absolute, { force: true })
        orphansRemoved.push(path)
      }
    }
  }
  const tempsRemoved = (await removeStaleTemps(store.tmpDir, grace, now.getTime())) + (await removeStaleTemps(log.layout.tmpDir, grace, now.getTime()))
  const result = { snapshotsRemoved, lakeFilesRemoved, orphansRemoved, tempsRemoved }
  logger.info({ snapshotsRemoved: snapshotsRemoved.length, lakeFilesRemoved: lakeFilesRemoved.length, orphansRemoved: orphansRemoved.length, tempsRemoved }, 'retention applied')
  return result
}
