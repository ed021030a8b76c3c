const hourMs = 3_600_000

export const commitLogDefaults = {
  /** The committer of every version divisible by this writes a checkpoint; opening reads at most this many commits. */
  checkpointEveryCommits: 100,
  /**
   * Idempotency keys of this many latest commits are kept (besides keys of commits whose files are still
   * active), so a replay of recent work (same Kafka range, same export run id) is still recognised.
   */
  keepKeysForCommits: 200,
  /** Tombstones of removed files are kept this long after removal: retention must see them for its grace period. */
  keepTombstonesForMs: 24 * hourMs,
  /** expireLog keeps at least this many latest commits... */
  expireKeepCommits: 1000,
  /** ...and every commit younger than this. */
  expireOlderThanMs: 7 * 24 * hourMs,
} as const

/** The settings a commit log runs with; a lake stores its own in `_lake.json` (lake-settings.ts). */
export type CommitLogConfig = { -readonly [K in keyof typeof commitLogDefaults]: number }
