import type { Logger } from '../core/logger.ts'

export type JobKind = 'export' | 'publish' | 'compaction' | 'retention' | (string & {})
export type Trigger = 'schedule' | 'manual' | 'catch-up'
export type RunStatus = 'running' | 'succeeded' | 'failed'

/** Backfill options a manual run may pass through to the job (the exporter understands them). */
export interface RunOptions {
  full?: boolean
  cursorRange?: { from?: string; to?: string }
  tables?: string[]
}

export interface JobSchedule {
  /** node-cron expression, 5 fields (minute first) or 6 (second first). */
  cron: string
  /** IANA timezone the expression is read in. */
  timezone: string
}

export interface JobContext {
  runId: string
  trigger: Trigger
  /** 1 for the first attempt of a run. */
  attempt: number
  /** Aborted when the run passes its deadline, the scheduler closes, or the job's lock lease is lost. */
  signal: AbortSignal
  logger: Logger
  options: RunOptions
}

/** Something a run got past without failing that an operator must still hear of (e.g. a quarantined file). */
export interface RunWarning {
  code: string
  message: string
  context?: Record<string, unknown>
}

export interface JobResult {
  rows?: number
  info?: Record<string, unknown>
  warnings?: RunWarning[]
}

/** A job as data: the scheduler knows nothing of what it does. */
export interface Job {
  id: string
  kind: JobKind
  schedule?: JobSchedule
  /** Which of RunOptions' fields this job accepts; anything else is JOB_OPTIONS_INVALID. */
  acceptsOptions?: (keyof RunOptions)[]
  /** Source the job reads, for status (export jobs). */
  source?: string
  /** Deadline of a run, retries included; default the runner's per-kind setting. */
  runTimeoutMs?: number
  /**
   * Locks of other jobs a run with these options must hold as well, taken all or none before it starts:
   * an export run given tables that another job owns (a table with its own schedule) holds that job's lock too.
   */
  leases?: (options: RunOptions) => string[]
  run: (ctx: JobContext) => Promise<JobResult>
}

/** One run of one job, as kept in `<lake>/_state/jobs/<job>/<runId>.json`. */
export interface RunRecord {
  job: string
  kind: string
  runId: string
  trigger: Trigger
  /** The schedule slot this run is for (schedule and catch-up triggers). */
  scheduledFor?: string
  startedAt: string
  endedAt?: string
  status: RunStatus
  attempts: number
  rows?: number
  info?: Record<string, unknown>
  options?: RunOptions
  owner: string
  /** Why it failed; `context` carries what the error knew (e.g. an export's failed tables). */
  /** A succeeded run's warnings; each fires one `job.warning` alert. */
  warnings?: RunWarning[]
  error?: { code: string; message: string; context?: Record<string, unknown> }
}

export type { SourceHealth, SourceHealthProvider } from '../ingest/export/source-guard.ts'

export const jobIdPattern = /^[A-Za-z0-9][A-Za-z0-9:._-]*$/
