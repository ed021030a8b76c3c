import { Type, type Static } from '@sinclair/typebox'

export const jobsDefaults = {
  catchUpOnStart: true,
  retryMaxAttempts: 3,
  retryInitialDelayMs: 1000,
  retryMaxDelayMs: 60_000,
  lockLeaseMs: 60_000,
} as const

const ScheduledJobSchema = Type.Object(
  {
    schedule: Type.String({ minLength: 1 }),
    timezone: Type.String({ minLength: 1, default: 'UTC' }),
  },
  { additionalProperties: false },
)

export const JobsConfigSchema = Type.Object(
  {
    catchUpOnStart: Type.Boolean({ default: jobsDefaults.catchUpOnStart }),
    retryMaxAttempts: Type.Integer({ minimum: 0, default: jobsDefaults.retryMaxAttempts }),
    retryInitialDelayMs: Type.Integer({ minimum: 1, default: jobsDefaults.retryInitialDelayMs }),
    retryMaxDelayMs: Type.Integer({ minimum: 1, default: jobsDefaults.retryMaxDelayMs }),
    lockLeaseMs: Type.Integer({ minimum: 1000, default: jobsDefaults.lockLeaseMs }),
    publish: Type.Optional(ScheduledJobSchema),
    compaction: Type.Optional(ScheduledJobSchema),
    retention: Type.Optional(ScheduledJobSchema),
    /** Alert hook: failures and recoveries are POSTed here as JSON. */
    alertWebhookUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
  },
  { additionalProperties: false },
)
export type JobsConfig = Static<typeof JobsConfigSchema>
