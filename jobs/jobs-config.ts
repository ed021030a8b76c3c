import { Type, type Static } from '@sinclair/typebox'

export const jobsDefaults = {
  catchUpOnStart: true,
  retryMaxAttempts: 3,
  retryInitialDelayMs: 1000,
  retryMaxDelayMs: 60_000,
  lockLeaseMs: 60_000,
  alertTimeoutMs: 5_000,
  historyKeepRuns: 500,
} as const

const ScheduledJobSchema = Type.Object(
  {
    schedule: Type.String({ minLength: 1 }),
    timezone: Type.String({ minLength: 1, default: 'UTC' }),
  },
  { additionalProperties: false },
)
export type ScheduledJobConfig = Static<typeof ScheduledJobSchema>

export const JobsConfigSchema = Type.Object(
  {
    catchUpOnStart: Type.Boolean({ default: jobsDefaults.catchUpOnStart }),
    /** Retries after a failed first attempt (exponential backoff with jitter); 0 means none. */
    retryMaxAttempts: Type.Integer({ minimum: 0, default: jobsDefaults.retryMaxAttempts }),
    retryInitialDelayMs: Type.Integer({ minimum: 1, default: jobsDefaults.retryInitialDelayMs }),
    retryMaxDelayMs: Type.Integer({ minimum: 1, default: jobsDefaults.retryMaxDelayMs }),
    /** A job's lock in the lake expires this long after its holder last renewed it (renewed every third of it). */
    lockLeaseMs: Type.Integer({ minimum: 1000, default: jobsDefaults.lockLeaseMs }),
    publish: Type.Optional(ScheduledJobSchema),
    compaction: Type.Optional(ScheduledJobSchema),
    retention: Type.Optional(ScheduledJobSchema),
    /** Alert hook: failures and recoveries are POSTed here as JSON. */
    alertWebhookUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
    alertTimeoutMs: Type.Integer({ minimum: 1, default: jobsDefaults.alertTimeoutMs }),
    /** Run records kept per job in `<lake>/_state/jobs/`; older ones are pruned. */
    historyKeepRuns: Type.Integer({ minimum: 1, default: jobsDefaults.historyKeepRuns }),
  },
  { additionalProperties: false },
)
export type JobsConfig = Static<typeof JobsConfigSchema>
