/** One immutable data file the lake holds. */
export interface LakeFile {
  /** Relative to the lake root, `/`-separated. */
  path: string
  service: string
  table: string
  origin: 'changes' | 'export' | 'compaction'
  rows: number
  bytes: number
  /** Column names and DuckDB types, so readers can union files whose schemas drifted. */
  columns?: { name: string; type: string }[]
  /** Primary key columns, so the warehouse can merge versions of a row. */
  key?: string[]
  // exports
  runId?: string
  /** Incremental exports: the cursor column. */
  cursor?: string
  mode?: 'full' | 'incremental'
  part?: number
  // changes
  topic?: string
  partition?: number
  firstOffset?: string
  lastOffset?: string
}

/** How far a source has been landed: the position reached and the wall time the data reflects. */
export interface Watermark {
  /** Unique per position stream: `export:<service>.<table>`, `kafka:<topic>:<partition>`. */
  key: string
  service: string
  table: string
  kind: 'export-full' | 'export-cursor' | 'kafka-offset'
  /** Cursor value, Kafka offset or LSN, as text; null when a full export has no position. */
  position: string | null
  /** ISO time the landed data is current as of. */
  asOf: string
}

export interface CommitDraft {
  kind: 'export' | 'changes' | 'compaction' | 'retention' | 'dead-letter' | 'quarantine' | 'erasure' | 'masking'
  runId: string
  /** A replay of the same work carries the same key, and commits nothing new. */
  idempotencyKey?: string
  add?: LakeFile[]
  /** Paths of files that stop being part of the lake's current state. */
  remove?: string[]
  watermarks?: Watermark[]
  /**
   * Commit only if each of these watermarks is still at this position (null: none yet). Two writers that
   * read the same watermark and landed overlapping work cannot both commit: the second gets
   * LAKE_WATERMARK_MOVED and redoes its work from the new position.
   */
  expectWatermarks?: Record<string, string | null>
  /**
   * Like expectWatermarks, on each watermark's `asOf` (null: none yet). Two runs that land the same position
   * (two full exports of an unchanged table) still differ in asOf, the time each one's read began.
   */
  expectWatermarkAsOf?: Record<string, string | null>
  /**
   * Commit only if every one of these paths is still active at the version this commit lands at (else
   * LAKE_COMMIT_CONFLICT): a compaction whose input another writer removed would bring its rows back.
   */
  requireActive?: string[]
  /**
   * Also removes every export file of this table active at the version this commit lands at (a full
   * export's replace). Decided there, not by the caller beforehand, so a compaction committed in between
   * by another process cannot leave its output active beside the new run.
   */
  replaceExportsOf?: { service: string; table: string }
  info?: Record<string, unknown>
}

export interface Commit {
  version: number
  committedAt: string
  kind: CommitDraft['kind']
  runId: string
  idempotencyKey?: string
  add: LakeFile[]
  remove: string[]
  watermarks: Watermark[]
  info?: Record<string, unknown>
}

export interface CommitResult {
  commit: Commit
  /** True when an earlier commit already carried this idempotency key, so nothing was written. */
  duplicate: boolean
}

/** A commit that could not be read: `coldpipe status` shows it instead of failing. */
export interface CorruptEntry {
  version: number
  file: string
  reason: string
}

/** A removed file retention still has to delete: when and by which commit it left the active set. */
export interface Tombstone {
  path: string
  version: number
  removedAt: string
}

/** Compaction lineage a commit records: each output path and the inputs it replaced. */
export function compactedFromOf(commit: Pick<Commit, 'info'>): Record<string, string[]> {
  const value = commit.info?.compactedFrom
  return value && typeof value === 'object' ? (value as Record<string, string[]>) : {}
}

/** What publish needs to go from the lake at one version to another, read once. */
export interface LakeSpan {
  /** undefined when no earlier version is to be diffed against (or it was expired: rebuild). */
  fromVersion: number | undefined
  toVersion: number
  before: Map<string, LakeFile>
  now: Map<string, LakeFile>
  /** Version that added each file active at `toVersion`. */
  addedIn: Map<string, number>
  /** Compaction output → inputs, for outputs active at `toVersion` and every compaction after `fromVersion`. */
  compactedFrom: Map<string, string[]>
}

export interface CommitLogStats {
  /** The checkpoint the last full read started from (-1: replayed from version 0). */
  checkpointVersion: number
  /** Commit files read since open (the open itself reads at most about `checkpointEveryCommits`). */
  commitFilesRead: number
  /**
   * Times `_log/` was listed to find where to start: 0 when `_last_checkpoint` led the way; a listing costs
   * what the whole retention window of commits costs, and is needed only without a usable pointer or for a gap.
   */
  logListings: number
  /** Commits held in memory: between N and 2N (`checkpointEveryCommits`) latest ones. */
  commitsInMemory: number
  idempotencyKeys: number
  tombstones: number
  activeFiles: number
}
