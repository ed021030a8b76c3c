import { hostname } from 'node:os'
import { randomUUID } from 'node:crypto'
import { ExponentialBackoff, handleWhen, halfJitterGenerator, retry } from 'cockatiel'
import { ColdpipeError, isColdpipeError, messageOf } from '../core/errors.ts'
import { newRunId, silentLogger, type Logger } from '../core/logger.ts'
import type { Alerter } from './alerter.ts'
import type { JobMetrics } from './job-metrics.ts'
import { JobLocks, type LockHandle } from './job-lock.ts'
import { jobIdPattern, type Job, type RunOptions, type RunRecord, type Trigger } from './job-types.ts'
import { RunHistory } from './run-history.ts'

export interface RetrySettings {
  /** Retries after the first attempt. */
  maxAttempts: number
  initialDelayMs: number
  maxDelayMs: number
}

export interface JobRunnerOptions {
  lakeRoot: string
  retry: RetrySettings
  lockLeaseMs: number
  historyKeepRuns?: number
  logger?: Logger
  metrics?: JobMetrics
  alert?: Alerter
  /** Identifies this process in locks and run records; default host:pid:random. */
  owner?: string
}

export interface StartRequest {
  trigger: Trigger
  options?: RunOptions
  /** The schedule slot (schedule and catch-up): skipped if some process already started a run at or after it. */
  scheduledFor?: Date
}

export type StartResult = { started: true; record: RunRecord; done: Promise<RunRecord> } | { started: false; reason: string }

export function defaultOwner(): string {
  return `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
}

/** Which error an attempt may be retried after: coded errors say so themselves; foreign ones are assumed transient. */
export function canRetry(error: unknown): boolean {
  if (isAbort(error)) return false
  return (error as { canRetry?: unknown } | undefined)?.canRetry !== false
}

function isAbort(error: unknown): boolean {
  return (error as { name?: string } | undefined)?.name === 'AbortError' || isColdpipeError(error, 'JOB_LEASE_LOST')
}

function errorSummary(error: unknown): { code: string; message: string } {
  if (isColdpipeError(error)) return { code: error.code, message: error.message }
  const code = (error as { code?: unknown } | undefined)?.code
  return { code: typeof code === 'string' ? code : 'JOB_FAILED', message: messageOf(error) }
}

/**
 * Runs one job once, end to end: takes its lock in the lake (or reports it busy), keeps the lease renewed,
 * retries failed attempts with exponential backoff and jitter, keeps the run record in the lake's history
 * current, counts metrics, and raises alerts on failure and on the first success after a failure.
 */
export class JobRunner {
  readonly owner: string
  readonly history: RunHistory
  readonly locks: JobLocks
  private readonly logger: Logger
  private readonly active = new Map<string, { controller: AbortController; done: Promise<RunRecord> }>()
  private readonly starting = new Set<string>()

  constructor(private readonly options: JobRunnerOptions) {
    this.owner = options.owner ?? defaultOwner()
    this.history = new RunHistory(options.lakeRoot, options.historyKeepRuns)
    this.locks = new JobLocks({ lakeRoot: options.lakeRoot, leaseMs: options.lockLeaseMs })
    this.logger = options.logger ?? silentLogger
  }

  isRunning(jobId: string): boolean {
    return this.active.has(jobId)
  }

  /**
   * Starts a run; resolves once the lock is held and the run is recorded as running. Throws
   * JOB_ALREADY_RUNNING for a manual run of a busy job; schedule and catch-up triggers get `started: false`.
   */
  async start(job: Job, request: StartRequest): Promise<StartResult> {
    if (!jobIdPattern.test(job.id)) {
      throw new ColdpipeError('JOB_NOT_FOUND', `job id "${job.id}" may hold only letters, digits and : . _ -`, { context: { job: job.id } })
    }
    const options = request.options ?? {}
    checkOptions(job, options)
    const busy = (holder?: string): StartResult => {
      this.options.metrics?.runFinished(job.id, 'skipped')
      if (request.trigger === 'manual') {
        throw new ColdpipeError('JOB_ALREADY_RUNNING', `job ${job.id} is already running${holder ? ` (held by ${holder})` : ''}`, {
          context: { job: job.id, holder },
        })
      }
      return { started: false, reason: `already running${holder ? ` (held by ${holder})` : ''}` }
    }
    // In-process guard first: the lock is not re-entrant, but this avoids even trying.
    if (this.active.has(job.id) || this.starting.has(job.id)) return busy(this.owner)
    const runId = newRunId(job.kind)
    this.starting.add(job.id)
    let acquired: Awaited<ReturnType<JobLocks['acquire']>>
    try {
      acquired = await this.locks.acquire(job.id, this.owner, runId)
    } finally {
      this.starting.delete(job.id)
    }
    if (!acquired) return busy((await this.locks.read(job.id))?.owner)
    const lock = acquired.handle
    try {
      // Holding the lock, no other run of this job can be alive: any still marked running lost its process.
      for (const stale of (await this.history.runs(job.id, 20)).filter((r) => r.status === 'running')) {
        await this.markAbandoned(stale)
      }
      if (request.scheduledFor) {
        const latest = await this.history.latest(job.id)
        if (latest && Date.parse(latest.startedAt) >= request.scheduledFor.getTime()) {
          await lock.release()
          this.options.metrics?.runFinished(job.id, 'skipped')
          return { started: false, reason: `slot ${request.scheduledFor.toISOString()} already ran as ${latest.runId}` }
        }
      }
      const record: RunRecord = {
        job: job.id,
        kind: job.kind,
        runId,
        trigger: request.trigger,
        ...(request.scheduledFor ? { scheduledFor: request.scheduledFor.toISOString() } : {}),
        startedAt: new Date().toISOString(),
        status: 'running',
        attempts: 0,
        ...(Object.keys(options).length > 0 ? { options } : {}),
        owner: this.owner,
      }
      await this.history.write(record)
      const controller = new AbortController()
      const done = this.execute(job, record, lock, controller)
      this.active.set(job.id, { controller, done })
      void done.finally(() => this.active.delete(job.id)).catch(() => undefined)
      return { started: true, record: { ...record }, done }
    } catch (error) {
      await lock.release().catch(() => undefined)
      throw error
    }
  }

  /** Runs and waits for the end; the record says succeeded or failed. */
  async run(job: Job, request: StartRequest): Promise<RunRecord | undefined> {
    const result = await this.start(job, request)
    return result.started ? result.done : undefined
  }

  private async markAbandoned(record: RunRecord): Promise<void> {
    await this.history.write({
      ...record,
      status: 'failed',
      endedAt: new Date().toISOString(),
      error: { code: 'JOB_ABANDONED', message: `its process ${record.owner} stopped renewing the job's lock (died?)` },
    })
    this.logger.warn({ job: record.job, runId: record.runId, owner: record.owner }, `run ${record.runId} of job ${record.job} was abandoned by ${record.owner}; marked failed`)
  }

  private async execute(job: Job, record: RunRecord, lock: LockHandle, controller: AbortController): Promise<RunRecord> {
    const logger = this.logger.child({ job: job.id, runId: record.runId })
    const started = performance.now()
    let writes: Promise<void> = Promise.resolve()
    const persist = (next: RunRecord): Promise<void> => {
      writes = writes.then(() => this.history.write(next)).catch((error: unknown) => logger.warn({ err: messageOf(error) }, 'could not record run'))
      return writes
    }
    const renewEvery = Math.max(200, Math.floor(this.options.lockLeaseMs / 3))
    const renewal = setInterval(() => {
      lock.renew().catch((error: unknown) => {
        logger.error({ err: messageOf(error) }, `lost the lock of job ${job.id}; stopping the run`)
        if (isColdpipeError(error, 'JOB_LEASE_LOST')) controller.abort(error)
      })
    }, renewEvery)
    renewal.unref()
    const settings = this.options.retry
    const policy = retry(
      handleWhen((error) => canRetry(error)),
      {
        maxAttempts: settings.maxAttempts,
        backoff: new ExponentialBackoff({ initialDelay: settings.initialDelayMs, maxDelay: settings.maxDelayMs, generator: halfJitterGenerator }),
      },
    )
    policy.onRetry((event) => {
      const error = 'error' in event ? event.error : undefined
      logger.warn({ attempt: event.attempt, delayMs: Math.round(event.delay), err: messageOf(error) }, `job ${job.id} attempt failed; retrying in ${Math.round(event.delay)} ms`)
    })
    let final: RunRecord
    try {
      logger.info({ trigger: record.trigger, options: record.options }, `job ${job.id} started`)
      const result = await policy.execute(async ({ attempt }) => {
        controller.signal.throwIfAborted()
        record.attempts = attempt + 1
        // Recorded in the background (in order, before the final record) so the attempt starts right after its backoff.
        if (attempt > 0) persist({ ...record })
        return job.run({ runId: record.runId, trigger: record.trigger, attempt: attempt + 1, signal: controller.signal, logger, options: record.options ?? {} })
      }, controller.signal)
      final = {
        ...record,
        status: 'succeeded',
        endedAt: new Date().toISOString(),
        ...(result?.rows !== undefined ? { rows: result.rows } : {}),
        ...(result?.info ? { info: result.info } : {}),
      }
      logger.info({ rows: result?.rows, attempts: record.attempts, durationMs: Math.round(performance.now() - started) }, `job ${job.id} succeeded`)
    } catch (error) {
      const reason = controller.signal.aborted && controller.signal.reason !== undefined ? controller.signal.reason : error
      final = { ...record, status: 'failed', endedAt: new Date().toISOString(), error: errorSummary(reason) }
      logger.error({ err: final.error, attempts: record.attempts }, `job ${job.id} failed after ${record.attempts} attempt(s)`)
    } finally {
      clearInterval(renewal)
    }
    await persist(final)
    const seconds = (performance.now() - started) / 1000
    this.options.metrics?.runFinished(job.id, final.status as 'succeeded' | 'failed', seconds, final.rows)
    await this.raiseAlerts(final, logger)
    await lock.release().catch((error: unknown) => logger.warn({ err: messageOf(error) }, 'could not release job lock'))
    await this.history.prune(job.id).catch(() => undefined)
    return final
  }

  private async raiseAlerts(final: RunRecord, logger: Logger): Promise<void> {
    if (!this.options.alert) return
    const base = { job: final.job, runId: final.runId, trigger: final.trigger, at: final.endedAt!, attempts: final.attempts }
    try {
      if (final.status === 'failed') {
        await this.options.alert({ type: 'job.failed', ...base, error: final.error! })
        return
      }
      const previous = (await this.history.runs(final.job, 20)).find((r) => r.runId !== final.runId && r.status !== 'running')
      if (previous?.status === 'failed') await this.options.alert({ type: 'job.recovered', ...base, previousFailedRunId: previous.runId })
    } catch (error) {
      logger.warn({ err: messageOf(error) }, 'alert hook failed')
    }
  }

  /**
   * Aborts running jobs and waits (up to `graceMs`) for them to record their end. A job that ignores its
   * abort signal is left behind: its lock expires and the next process marks its run abandoned.
   */
  async close(graceMs = 30_000): Promise<void> {
    const running = [...this.active.entries()]
    for (const [, run] of running) run.controller.abort(new ColdpipeError('JOB_FAILED', 'coldpipe is shutting down', { canRetry: true }))
    let timer: NodeJS.Timeout | undefined
    const ended = await Promise.race([
      Promise.allSettled(running.map(([, r]) => r.done)).then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), graceMs))),
    ])
    clearTimeout(timer)
    if (!ended) {
      this.logger.warn({ jobs: running.filter(([id]) => this.active.has(id)).map(([id]) => id) }, `jobs still running ${graceMs} ms after shutdown began; leaving them`)
    }
  }
}

function checkOptions(job: Job, options: RunOptions): void {
  const accepted = new Set(job.acceptsOptions ?? [])
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined || value === false) continue
    if (!accepted.has(name as keyof RunOptions)) {
      throw new ColdpipeError('JOB_OPTIONS_INVALID', `job ${job.id} does not accept option ${name}`, { context: { job: job.id, option: name } })
    }
  }
  if (options.full && options.cursorRange) {
    throw new ColdpipeError('JOB_OPTIONS_INVALID', `job ${job.id}: options full and cursorRange exclude each other`, { context: { job: job.id, option: 'cursorRange' } })
  }
}
