import { Type, type Static } from '@sinclair/typebox'

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

const d = commitLogDefaults

export const CommitLogConfigSchema = Type.Object(
  {
    checkpointEveryCommits: Type.Integer({ minimum: 2, default: d.checkpointEveryCommits }),
    keepKeysForCommits: Type.Integer({ minimum: 0, default: d.keepKeysForCommits }),
    keepTombstonesForMs: Type.Integer({ minimum: 0, default: d.keepTombstonesForMs }),
    expireKeepCommits: Type.Integer({ minimum: 0, default: d.expireKeepCommits }),
    expireOlderThanMs: Type.Integer({ minimum: 0, default: d.expireOlderThanMs }),
  },
  { additionalProperties: false, default: {} },
)
export type CommitLogConfig = Static<typeof CommitLogConfigSchema>
