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
  /** Aborted when the scheduler closes or the job's lock lease is lost. */
  signal: AbortSignal
  logger: Logger
  options: RunOptions
}

export interface JobResult {
  rows?: number
  info?: Record<string, unknown>
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
  error?: { code: string; message: string }
}

export type { SourceHealth, SourceHealthProvider } from '../ingest/export/source-guard.ts'

export const jobIdPattern = /^[A-Za-z0-9][A-Za-z0-9:._-]*$/
