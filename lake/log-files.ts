import { readdir, readFile } from 'node:fs/promises'
import { ColdpipeError, messageOf } from '../core/errors.ts'
import type { Commit } from './commit-types.ts'
import { lakeFormatVersion } from './lake-format.ts'
import type { LakeLayout } from './lake-layout.ts'
import { isCheckpointOf, LakeState } from './lake-state.ts'
import { writeFileAtomic } from './atomic-file.ts'
import { createIfAbsent } from './put-if-absent.ts'

/** What `_log/` holds, by version, oldest first (names only: no file is read). */
export interface LogListing {
  commits: number[]
  checkpoints: number[]
}

/** Commit files read at once while opening. */
const readBatch = 16

const commitName = /^(\d{20})\.json$/
const checkpointName = /^(\d{20})\.checkpoint\.json$/

export async function listLog(layout: LakeLayout): Promise<LogListing> {
  let names: string[]
  try {
    names = await readdir(layout.logDir)
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return { commits: [], checkpoints: [] }
    throw new ColdpipeError('LAKE_IO_FAILED', `cannot list ${layout.logDir}: ${messageOf(cause)}`, { cause, context: { logDir: layout.logDir } })
  }
  const commits: number[] = []
  const checkpoints: number[] = []
  for (const name of names) {
    const commit = commitName.exec(name)
    if (commit) commits.push(Number(commit[1]))
    const checkpoint = checkpointName.exec(name)
    if (checkpoint) checkpoints.push(Number(checkpoint[1]))
  }
  const ascending = (a: number, b: number): number => a - b
  return { commits: commits.sort(ascending), checkpoints: checkpoints.sort(ascending) }
}

function isCommitOf(value: unknown, version: number): value is Commit {
  if (!value || typeof value !== 'object') return false
  const commit = value as Partial<Commit>
  return commit.version === version && Array.isArray(commit.add) && Array.isArray(commit.remove) && Array.isArray(commit.watermarks)
}

/** Commit `version`, or undefined when its file does not exist; LAKE_LOG_CORRUPT naming the file when unreadable. */
export async function readCommitFile(layout: LakeLayout, version: number): Promise<Commit | undefined> {
  const file = layout.commitFile(version)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new ColdpipeError('LAKE_IO_FAILED', `cannot read commit ${file}: ${messageOf(cause)}`, { cause, context: { file, version } })
  }
  let value: unknown
  let reason: string
  try {
    value = JSON.parse(text)
    if (isCommitOf(value, version)) return value
    reason = `not a commit of version ${version}`
  } catch (cause) {
    reason = messageOf(cause)
  }
  throw new ColdpipeError('LAKE_LOG_CORRUPT', `cannot read commit ${file}: ${reason}`, { context: { file, version, reason } })
}

/** The state in checkpoint `version`, or the reason it cannot be used. */
export async function readCheckpointFile(layout: LakeLayout, version: number): Promise<LakeState | { unreadable: string }> {
  const file = layout.checkpointFile(version)
  try {
    const value: unknown = JSON.parse(await readFile(file, 'utf8'))
    if (!isCheckpointOf(value, version)) return { unreadable: `${file} is not a checkpoint of version ${version}` }
    if (value.formatVersion > lakeFormatVersion) return { unreadable: `${file} has format version ${value.formatVersion}, newer than ${lakeFormatVersion}` }
    return LakeState.fromCheckpoint(value)
  } catch (cause) {
    return { unreadable: `${file}: ${messageOf(cause)}` }
  }
}

/** Writes the checkpoint of `state.version` put-if-absent (false when one already exists), then points `_last_checkpoint` at it. */
export async function writeCheckpointFile(layout: LakeLayout, state: LakeState, now = new Date()): Promise<boolean> {
  const created = await createIfAbsent(layout.tmpDir, layout.checkpointFile(state.version), JSON.stringify(state.toCheckpoint(lakeFormatVersion, now)))
  if (state.version > ((await readLastCheckpoint(layout)) ?? -1)) {
    // A hint, not a truth: two writers may race it back to the older of their versions, which only makes an
    // open read more commits; a pointer at a removed or unreadable checkpoint sends the open to a listing.
    await writeFileAtomic(layout.tmpDir, layout.lastCheckpointFile, JSON.stringify({ version: state.version }))
  }
  return created
}

/** The version `_last_checkpoint` names, or undefined when there is none (or it cannot be read). */
export async function readLastCheckpoint(layout: LakeLayout): Promise<number | undefined> {
  try {
    const value = JSON.parse(await readFile(layout.lastCheckpointFile, 'utf8')) as { version?: unknown }
    return typeof value.version === 'number' && Number.isInteger(value.version) && value.version >= 0 ? value.version : undefined
  } catch {
    return undefined
  }
}

/**
 * The state at the newest checkpoint `_last_checkpoint` names and every commit after it, read 16 files at a
 * time until the first missing version, without listing `_log/` (which holds every commit of the retention
 * window). Undefined whenever this cannot be sure: no pointer, an unreadable checkpoint or commit, or a later
 * commit present after a missing one (a gap) — the caller then resolves from a listing, which reports those.
 */
export async function readFromLastCheckpoint(layout: LakeLayout): Promise<{ state: LakeState; commits: Commit[] } | undefined> {
  const version = await readLastCheckpoint(layout)
  if (version === undefined) return undefined
  const state = await readCheckpointFile(layout, version)
  if (!(state instanceof LakeState)) return undefined
  const commits: Commit[] = []
  for (let from = version + 1; ; from += readBatch) {
    const batch = await Promise.all(Array.from({ length: readBatch }, (_, i) => readCommitFile(layout, from + i).catch((error: unknown) => error as Error)))
    const end = batch.findIndex((entry) => entry === undefined)
    const found = end < 0 ? batch : batch.slice(0, end)
    for (const entry of found) {
      if (entry instanceof Error) return undefined
      commits.push(entry!)
    }
    if (end < 0) continue
    if (batch.slice(end + 1).some((entry) => entry !== undefined)) return undefined
    return { state, commits }
  }
}

/** The first version expireLog kept (commits before it may be gone), or 0 when nothing was ever expired. */
export async function readExpiredMarker(layout: LakeLayout): Promise<number> {
  try {
    const value = JSON.parse(await readFile(layout.expiredMarkerFile, 'utf8')) as { keptFromVersion?: unknown }
    return typeof value.keptFromVersion === 'number' ? value.keptFromVersion : 0
  } catch {
    return 0
  }
}

export interface ResolvedBase {
  /** The state to start from: a checkpoint's, or the empty lake (version -1). */
  state: LakeState
  /** Commit versions to read and apply on top, in order. */
  commits: number[]
  /** Newer checkpoints that could not be used, and why. */
  skipped: { version: number; reason: string }[]
}

/**
 * Picks where reading starts to reach `target` (default: the newest version in the log): the newest
 * readable checkpoint at or before it whose following commits are all present, else an older one, else
 * version 0. Reads only the chosen checkpoint.
 */
export async function resolveBase(layout: LakeLayout, target?: number): Promise<ResolvedBase> {
  const { commits, checkpoints } = await listLog(layout)
  const upTo = target ?? Math.max(commits.at(-1) ?? -1, checkpoints.at(-1) ?? -1)
  const present = new Set(commits)
  const oldestCommit = commits[0] ?? Number.POSITIVE_INFINITY
  const skipped: ResolvedBase['skipped'] = []
  let firstHole: { missing: number; expired: boolean } | undefined
  for (const candidate of [...checkpoints.filter((v) => v <= upTo).reverse(), -1]) {
    let missing: number | undefined
    for (let v = candidate + 1; v <= upTo; v++) {
      if (!present.has(v)) {
        missing = v
        break
      }
    }
    if (missing !== undefined) {
      firstHole ??= { missing, expired: missing < oldestCommit }
      continue
    }
    const state = candidate === -1 ? new LakeState() : await readCheckpointFile(layout, candidate)
    if (!(state instanceof LakeState)) {
      skipped.push({ version: candidate, reason: state.unreadable })
      continue
    }
    const read: number[] = []
    for (let v = candidate + 1; v <= upTo; v++) read.push(v)
    return { state, commits: read, skipped }
  }
  const context = { logDir: layout.logDir, version: upTo, oldestCommit: commits[0] ?? null, unreadableCheckpoints: skipped }
  if (firstHole && !firstHole.expired) {
    const next = commits.find((v) => v > firstHole!.missing)
    throw new ColdpipeError('LAKE_LOG_CORRUPT', `commit log ${layout.logDir} has a gap: version ${firstHole.missing} is missing, found version ${next} after it`, {
      context: { ...context, missing: firstHole.missing },
    })
  }
  if (target !== undefined) {
    throw new ColdpipeError('LAKE_VERSION_EXPIRED', `lake version ${target} is older than the oldest retained checkpoint of ${layout.logDir} (commits before ${commits[0]} were removed)`, {
      context,
    })
  }
  throw new ColdpipeError(
    'LAKE_LOG_CORRUPT',
    `no readable checkpoint of ${layout.logDir} reaches version ${upTo} and older commits were removed: ${skipped.map((s) => s.reason).join('; ') || 'no checkpoint'}`,
    { context },
  )
}

/**
 * Reads the files of `versions` a batch at a time, concurrently, handing them out in order: the file opens,
 * not the parsing, are most of an open's time. `next(v)` must be asked for the versions in order.
 */
export function readAhead<T>(versions: number[], read: (version: number) => Promise<T>): { next(version: number): Promise<T> } {
  const reads = new Map<number, Promise<T>>()
  let from = 0
  return {
    next(version) {
      if (!reads.has(version)) {
        from = Math.max(from, versions.indexOf(version, from))
        for (const v of versions.slice(from, from + readBatch)) {
          const pending = read(v)
          // Awaited (or dropped with the open that failed) by next(); never an unhandled rejection.
          pending.catch(() => undefined)
          reads.set(v, pending)
        }
        from += readBatch
      }
      const pending = reads.get(version)!
      reads.delete(version)
      return pending
    },
  }
}
