import { Type, type Static } from '@sinclair/typebox'
import { ReconcileConfigSchema } from '../warehouse/reconcile/reconcile-config.ts'

/** setTimeout's ceiling (about 24.8 days); a longer delay would fire at once. */
const maxTimerMs = 2_147_483_647

export const jobsDefaults = {
  catchUpOnStart: true,
  retryMaxAttempts: 3,
  retryInitialDelayMs: 1000,
  retryMaxDelayMs: 60_000,
  lockLeaseMs: 60_000,
  alertTimeoutMs: 5_000,
  historyKeepRuns: 500,
  /** Deadline of one run per job kind, retries and backoff included. */
  runTimeoutMs: { export: 4 * 3600_000, publish: 3600_000, compaction: 2 * 3600_000, retention: 3600_000 },
  stopGraceMs: 30_000,
  /**
   * Maintenance runs unless configured otherwise: change ingest lands a file per partition per flush, so
   * without compaction a lake's active files (and publish's work) would grow with history.
   */
  compaction: { schedule: '*/15 * * * *', timezone: 'UTC' },
  retention: { schedule: '30 3 * * *', timezone: 'UTC' },
} as const

const timeoutMs = (fallback: number) => Type.Integer({ minimum: 1000, maximum: maxTimerMs, default: fallback })

const scheduledJobProperties = {
  schedule: Type.String({ minLength: 1 }),
  timezone: Type.String({ minLength: 1, default: 'UTC' }),
  /** Deadline of a run of this job; default `jobs.runTimeoutMs.<kind>`. */
  runTimeoutMs: Type.Optional(Type.Integer({ minimum: 1000, maximum: maxTimerMs })),
}
const ScheduledJobSchema = Type.Object(scheduledJobProperties, { additionalProperties: false })
/** A job that is scheduled unless the config gives another schedule. */
const scheduledByDefault = (schedule: { schedule: string; timezone: string }) =>
  Type.Object(scheduledJobProperties, { additionalProperties: false, default: schedule })
export type ScheduledJobConfig = Static<typeof ScheduledJobSchema>

const RunTimeoutsSchema = Type.Object(
  {
    export: timeoutMs(jobsDefaults.runTimeoutMs.export),
    publish: timeoutMs(jobsDefaults.runTimeoutMs.publish),
    compaction: timeoutMs(jobsDefaults.runTimeoutMs.compaction),
    retention: timeoutMs(jobsDefaults.runTimeoutMs.retention),
  },
  { additionalProperties: false, default: {} },
)
export type RunTimeouts = Static<typeof RunTimeoutsSchema>

export const JobsConfigSchema = Type.Object(
  {
    catchUpOnStart: Type.Boolean({ default: jobsDefaults.catchUpOnStart }),
    /** Retries after a failed first attempt (exponential backoff with jitter); 0 means none. */
    retryMaxAttempts: Type.Integer({ minimum: 0, default: jobsDefaults.retryMaxAttempts }),
    retryInitialDelayMs: Type.Integer({ minimum: 1, default: jobsDefaults.retryInitialDelayMs }),
    retryMaxDelayMs: Type.Integer({ minimum: 1, default: jobsDefaults.retryMaxDelayMs }),
    /** A job's lock in the lake expires this long after its holder last renewed it (renewed every third of it). */
    lockLeaseMs: Type.Integer({ minimum: 1000, default: jobsDefaults.lockLeaseMs }),
    /**
     * Deadline of a run per job kind (retries included). Overridden per job by `exports[].runTimeoutMs`,
     * `exports[].tables[].runTimeoutMs` (a table with its own schedule) and `jobs.<publish|compaction|retention>.runTimeoutMs`.
     */
    runTimeoutMs: RunTimeoutsSchema,
    /** After a run is aborted (deadline, shutdown, lost lock), how long it may take to wind down before it is recorded failed anyway. */
    stopGraceMs: Type.Integer({ minimum: 0, maximum: maxTimerMs, default: jobsDefaults.stopGraceMs }),
    publish: Type.Optional(ScheduledJobSchema),
    compaction: Type.Optional(scheduledByDefault(jobsDefaults.compaction)),
    retention: Type.Optional(scheduledByDefault(jobsDefaults.retention)),
    /** The `reconcile` job: warehouse tables against their sources (docs/reconciliation.md); manual unless it has a schedule. */
    reconcile: Type.Optional(ReconcileConfigSchema),
    /** Alert hook: failures and recoveries are POSTed here as JSON. */
    alertWebhookUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
    alertTimeoutMs: Type.Integer({ minimum: 1, default: jobsDefaults.alertTimeoutMs }),
    /** Run records kept per job in `<lake>/_state/jobs/`; older ones are pruned. */
    historyKeepRuns: Type.Integer({ minimum: 1, default: jobsDefaults.historyKeepRuns }),
  },
  { additionalProperties: false },
)
export type JobsConfig = Static<typeof JobsConfigSchema>
