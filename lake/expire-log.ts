import { unlink } from 'node:fs/promises'
import { ColdpipeError, messageOf } from '../core/errors.ts'
import { silentLogger, type Logger } from '../core/logger.ts'
import { writeFileAtomic } from './atomic-file.ts'
import { readLakeFormat } from './lake-format.ts'
import { effectiveLakeSettings } from './lake-settings.ts'
import { LakeLayout } from './lake-layout.ts'
import { LakeState } from './lake-state.ts'
import { listLog, readCheckpointFile, readExpiredMarker } from './log-files.ts'

export interface ExpireLogOptions {
  /** Never expire any of this many latest commits (default: the lake's `expireKeepCommits`). */
  keepCommits?: number
  /** Never expire a commit younger than this (default: the lake's `expireOlderThanMs`). */
  olderThanMs?: number
  now?: Date
  logger?: Logger
}

export interface ExpireLogResult {
  /** The checkpoint the log now starts at; undefined when nothing could be expired. */
  keptFromVersion?: number
  commitsRemoved: number
  checkpointsRemoved: number
}

async function remove(path: string): Promise<boolean> {
  try {
    await unlink(path)
    return true
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw new ColdpipeError('LAKE_IO_FAILED', `cannot remove ${path}: ${messageOf(cause)}`, { cause, context: { path } })
  }
}

/**
 * Removes old commits, as Delta Lake's log cleanup does: picks the newest readable checkpoint that is at
 * least `keepCommits` versions old and whose commit is older than `olderThanMs`, and deletes every commit
 * and checkpoint strictly before it. Versions from that checkpoint on stay readable; older ones answer
 * LAKE_VERSION_EXPIRED. `_log/_expired.json` is written first, so a process whose state predates the cut
 * re-reads from a checkpoint instead of taking a deleted version number.
 */
export async function expireLog(lakeRoot: string, options: ExpireLogOptions = {}): Promise<ExpireLogResult> {
  const layout = new LakeLayout(lakeRoot)
  const logger = options.logger ?? silentLogger
  const settings = effectiveLakeSettings((await readLakeFormat(layout))?.settings)
  const keepCommits = options.keepCommits ?? settings.expireKeepCommits
  const olderThanMs = options.olderThanMs ?? settings.expireOlderThanMs
  const now = (options.now ?? new Date()).getTime()
  const { commits, checkpoints } = await listLog(layout)
  const latest = commits.at(-1) ?? -1
  let cutoff: number | undefined
  for (const candidate of [...checkpoints].reverse()) {
    if (candidate > latest - keepCommits) continue
    const state = await readCheckpointFile(layout, candidate)
    // An unreadable checkpoint is never the one the log is cut at: opening would have nothing to start from.
    if (!(state instanceof LakeState)) continue
    if (Date.parse(state.committedAt) > now - olderThanMs) continue
    cutoff = candidate
    break
  }
  if (cutoff === undefined) return { commitsRemoved: 0, checkpointsRemoved: 0 }
  if (cutoff > (await readExpiredMarker(layout))) {
    await writeFileAtomic(layout.tmpDir, layout.expiredMarkerFile, JSON.stringify({ keptFromVersion: cutoff, expiredAt: new Date(now).toISOString() }))
  }
  let commitsRemoved = 0
  let checkpointsRemoved = 0
  for (const version of commits) if (version < cutoff && (await remove(layout.commitFile(version)))) commitsRemoved++
  for (const version of checkpoints) if (version < cutoff && (await remove(layout.checkpointFile(version)))) checkpointsRemoved++
  logger.info({ lakeRoot, keptFromVersion: cutoff, commitsRemoved, checkpointsRemoved }, 'lake log expired')
  return { keptFromVersion: cutoff, commitsRemoved, checkpointsRemoved }
}
