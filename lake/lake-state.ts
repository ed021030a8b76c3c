import { compactedFromOf, type Commit, type LakeFile, type Tombstone, type Watermark } from './commit-types.ts'

/** What a checkpoint file holds: the lake's state at `version`, enough to continue without older commits. */
export interface CheckpointDocument {
  formatVersion: number
  version: number
  /** When commit `version` was made; expireLog's age margin is measured from it. */
  committedAt: string
  writtenAt: string
  /** Active files, each with the version that added it (publish orders export runs by it). */
  files: { addedIn: number; file: LakeFile }[]
  /** Compaction lineage (output path → inputs) of outputs still active. */
  lineage: Record<string, string[]>
  watermarks: Watermark[]
  /** Kept keyed commits, without their `remove` list and `info` (see `LakeState.prune`). */
  keys: Commit[]
  tombstones: Tombstone[]
}

export interface PruneRules {
  keepKeysForCommits: number
  keepTombstonesForMs: number
}

/**
 * The lake's state at one version, kept incrementally: applying a commit costs what the commit changed,
 * and pruning bounds keys and tombstones by the rules, so nothing here grows with the length of history.
 */
export class LakeState {
  version = -1
  committedAt = new Date(0).toISOString()
  readonly files = new Map<string, LakeFile>()
  readonly addedIn = new Map<string, number>()
  readonly lineage = new Map<string, string[]>()
  readonly marks = new Map<string, Watermark>()
  readonly keys = new Map<string, Commit>()
  readonly tombstones = new Map<string, Tombstone>()

  apply(commit: Commit): void {
    for (const path of commit.remove) {
      if (!this.files.delete(path)) continue
      this.addedIn.delete(path)
      this.lineage.delete(path)
      this.tombstones.set(path, { path, version: commit.version, removedAt: commit.committedAt })
    }
    const lineage = compactedFromOf(commit)
    for (const file of commit.add) {
      this.files.set(file.path, file)
      this.addedIn.set(file.path, commit.version)
      // A replay rewrites the same path: it is active again, not a removed file.
      this.tombstones.delete(file.path)
      const inputs = lineage[file.path]
      if (inputs) this.lineage.set(file.path, inputs)
      else this.lineage.delete(file.path)
    }
    for (const mark of commit.watermarks) this.marks.set(mark.key, mark)
    if (commit.idempotencyKey) this.keys.set(commit.idempotencyKey, commit)
    this.version = commit.version
    this.committedAt = commit.committedAt
  }

  /**
   * Keeps the idempotency keys a replay can still present: those of the last `keepKeysForCommits` commits
   * (a retried run, a redelivered Kafka range) and those of commits whose files are still active (an
   * export run re-run much later must still find its commit). Older keys of replaced work are dropped;
   * ingest also skips records at or below the partition's watermark, so a forgotten range is never landed
   * twice. Tombstones older than `keepTombstonesForMs` (measured from this version's commit time, so every
   * process prunes the same way) are dropped: by then retention's grace period has passed and a file
   * still on disk is removed as an orphan.
   */
  prune(rules: PruneRules): void {
    for (const [key, commit] of this.keys) {
      const recent = commit.version > this.version - rules.keepKeysForCommits
      const stillActive = commit.add.some((file) => this.addedIn.get(file.path) === commit.version)
      if (!recent && !stillActive) this.keys.delete(key)
      else this.keys.set(key, keptCommit(commit))
    }
    const oldest = Date.parse(this.committedAt) - rules.keepTombstonesForMs
    for (const [path, tombstone] of this.tombstones) {
      if (Date.parse(tombstone.removedAt) < oldest) this.tombstones.delete(path)
    }
  }

  clone(): LakeState {
    const copy = new LakeState()
    copy.version = this.version
    copy.committedAt = this.committedAt
    for (const [from, to] of [
      [this.files, copy.files],
      [this.addedIn, copy.addedIn],
      [this.lineage, copy.lineage],
      [this.marks, copy.marks],
      [this.keys, copy.keys],
      [this.tombstones, copy.tombstones],
    ] as [Map<string, unknown>, Map<string, unknown>][]) {
      for (const [k, v] of from) to.set(k, v)
    }
    return copy
  }

  toCheckpoint(formatVersion: number, writtenAt: Date): CheckpointDocument {
    return {
      formatVersion,
      version: this.version,
      committedAt: this.committedAt,
      writtenAt: writtenAt.toISOString(),
      files: [...this.files.values()].map((file) => ({ addedIn: this.addedIn.get(file.path) ?? this.version, file })),
      lineage: Object.fromEntries(this.lineage),
      watermarks: [...this.marks.values()],
      keys: [...this.keys.values()].map(keptCommit),
      tombstones: [...this.tombstones.values()],
    }
  }

  static fromCheckpoint(doc: CheckpointDocument): LakeState {
    const state = new LakeState()
    state.version = doc.version
    state.committedAt = doc.committedAt
    for (const { addedIn, file } of doc.files) {
      state.files.set(file.path, file)
      state.addedIn.set(file.path, addedIn)
    }
    for (const [out, inputs] of Object.entries(doc.lineage)) state.lineage.set(out, inputs)
    for (const mark of doc.watermarks) state.marks.set(mark.key, mark)
    for (const commit of doc.keys) if (commit.idempotencyKey) state.keys.set(commit.idempotencyKey, commit)
    for (const tombstone of doc.tombstones) state.tombstones.set(tombstone.path, tombstone)
    return state
  }
}

/**
 * A keyed commit as a replay needs it: what it added (paths, rows, bytes) and where it moved watermarks.
 * Column lists are left out: they are most of a commit's size, and a replay only reports what was landed.
 */
function keptCommit(commit: Commit): Commit {
  if (commit.remove.length === 0 && commit.info === undefined && commit.add.every((file) => file.columns === undefined)) return commit
  const { info: _info, ...rest } = commit
  return { ...rest, remove: [], add: commit.add.map(({ columns: _columns, ...file }) => file) }
}

/** True when `value` has the shape of a checkpoint of `version`; anything else is treated as unreadable. */
export function isCheckpointOf(value: unknown, version: number): value is CheckpointDocument {
  if (!value || typeof value !== 'object') return false
  const doc = value as Partial<CheckpointDocument>
  return (
    doc.version === version &&
    typeof doc.committedAt === 'string' &&
    typeof doc.formatVersion === 'number' &&
    Array.isArray(doc.files) &&
    Array.isArray(doc.watermarks) &&
    Array.isArray(doc.keys) &&
    Array.isArray(doc.tombstones) &&
    !!doc.lineage &&
    typeof doc.lineage === 'object'
  )
}
