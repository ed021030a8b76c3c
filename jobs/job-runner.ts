import { hostname } from 'node:os'
import { randomUUID } from 'node:crypto'
import { ExponentialBackoff, handleWhen, halfJitterGenerator, retry } from 'cockatiel'
import { ColdpipeError, isColdpipeError, messageOf } from '../core/errors.ts'
import { childLogger, newRunId, silentLogger, type Logger } from '../core/logger.ts'
import type { Alerter } from './alerter.ts'
import type { JobMetrics } from './job-metrics.ts'
import { JobLocks, type LockHandle } from './job-lock.ts'
import { jobIdPattern, type Job, type RunOptions, type RunRecord, type Trigger } from './job-types.ts'
import { jobsDefaults, type JobsConfig } from './jobs-config.ts'
import { errorSummary } from './run-error.ts'
import { RunHistory } from './run-history.ts'
import { RunStopper } from './run-stopper.ts'
import { abandonedError, lockShowsRunning, ownerIsDead, registerLiveOwner } from './run-liveness.ts'

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
  /** Deadline of a run per job kind (a job's own `runTimeoutMs` wins); a kind not listed gets the longest listed. */
  runTimeoutMs?: Partial<Record<string, number>>
  /** How long an aborted run may take to wind down before it is recorded failed anyway (default 30 s). */
  stopGraceMs?: number
}

/** The runner settings `jobs:` in config holds; every process that runs jobs (scheduler, CLI) reads them here. */
export function runnerSettings(config: JobsConfig): Pick<JobRunnerOptions, 'retry' | 'lockLeaseMs' | 'historyKeepRuns' | 'runTimeoutMs' | 'stopGraceMs'> {
  return {
    retry: { maxAttempts: config.retryMaxAttempts, initialDelayMs: config.retryInitialDelayMs, maxDelayMs: config.retryMaxDelayMs },
    lockLeaseMs: config.lockLeaseMs,
    historyKeepRuns: config.historyKeepRuns,
    runTimeoutMs: config.runTimeoutMs,
    stopGraceMs: config.stopGraceMs,
  }
}

export interface StartRequest {
  trigger: Trigger
  options?: RunOptions
  /** The schedule slot (schedule and catch-up): skipped if some process already started a run at or after it. */
  scheduledFor?: Date
  /** The run id to use (a rerun of the same export run id commits nothing twice); default a new one. */
  runId?: string
}

export type StartResult = { started: true; record: RunRecord; done: Promise<RunRecord> } | { started: false; reason: string }

interface ActiveRun {
  done: Promise<RunRecord>
  /** Aborts the run; if it has not ended `graceMs` later, it is recorded failed with `reason` and left behind. */
  stop(reason: unknown, graceMs: number): void
}

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

/**
 * Runs one job once, end to end: takes its lock in the lake (and the locks of jobs owning tables it was
 * given), or reports it busy; keeps the leases renewed, retries failed attempts with exponential backoff and
 * jitter, keeps the run record in the lake's history current, counts metrics, and raises alerts on failure
 * and on the first success after a failure. Every run ends: at its deadline, at shutdown, or when the
 * process has nothing left to wait for, it is aborted and, if it does not stop within the grace period,
 * recorded failed anyway (its late result is ignored).
 */
export class JobRunner {
  readonly owner: string
  readonly history: RunHistory
  readonly locks: JobLocks
  private readonly logger: Logger
  private readonly stopGraceMs: number
  private readonly active = new Map<string, ActiveRun>()
  /** Lock name -> job whose run in this process holds it (its own, or a lease on another job's tables). */
  private readonly held = new Map<string, string>()
  private readonly starting = new Set<string>()
  private readonly unregisterOwner: () => void
  private idleWatch = false

  constructor(private readonly options: JobRunnerOptions) {
    this.owner = options.owner ?? defaultOwner()
    this.history = new RunHistory(options.lakeRoot, options.historyKeepRuns)
    this.locks = new JobLocks({ lakeRoot: options.lakeRoot, leaseMs: options.lockLeaseMs })
    this.logger = options.logger ?? silentLogger
    this.stopGraceMs = options.stopGraceMs ?? jobsDefaults.stopGraceMs
    this.unregisterOwner = registerLiveOwner(this.owner)
  }

  isRunning(jobId: string): boolean {
    return this.active.has(jobId)
  }

  /** The deadline a run of `job` gets. */
  deadlineOf(job: Job): number {
    if (job.runTimeoutMs !== undefined) return job.runTimeoutMs
    const perKind = { ...jobsDefaults.runTimeoutMs, ...this.options.runTimeoutMs } as Record<string, number | undefined>
    return perKind[job.kind] ?? Math.max(...Object.values(perKind).filter((v): v is number => v !== undefined))
  }

  /**
   * Starts a run; resolves once the locks are held and the run is recorded as running. Throws
   * JOB_ALREADY_RUNNING for a manual run of a busy job; schedule and catch-up triggers get `started: false`.
   */
  async start(job: Job, request: StartRequest): Promise<StartResult> {
    if (!jobIdPattern.test(job.id)) {
      throw new ColdpipeError('JOB_NOT_FOUND', `job id "${job.id}" may hold only letters, digits and : . _ -`, { context: { job: job.id } })
    }
    if (request.runId !== undefined && !jobIdPattern.test(request.runId)) {
      throw new ColdpipeError('JOB_OPTIONS_INVALID', `run id "${request.runId}" may hold only letters, digits and : . _ -`, { context: { job: job.id, option: 'runId' } })
    }
    const options = request.options ?? {}
    checkOptions(job, options)
    const lockIds = [job.id, ...[...new Set(job.leases?.(options) ?? [])].filter((id) => id !== job.id).sort()]
    const busy = (lockId: string, holder?: string): StartResult => {
      this.options.metrics?.runFinished(job.id, 'skipped')
      const by = holder ? ` (held by ${holder})` : ''
      const reason = lockId === job.id ? `already running${by}` : `job ${lockId}, which owns tables this run exports, is running${by}`
      if (request.trigger === 'manual') {
        throw new ColdpipeError('JOB_ALREADY_RUNNING', `job ${job.id} ${lockId === job.id ? 'is ' : 'cannot start: '}${reason}`, {
          context: { job: job.id, lock: lockId, holder },
        })
      }
      return { started: false, reason }
    }
    // In-process guard first: the lock is not re-entrant, but this avoids even trying.
    const taken = lockIds.find((id) => this.held.has(id) || this.starting.has(id))
    if (taken) return busy(taken, this.owner)
    const runId = request.runId ?? newRunId(job.kind)
    const handles: LockHandle[] = []
    const releaseAll = (): Promise<unknown> => Promise.all(handles.map((h) => h.release().catch(() => undefined)))
    for (const id of lockIds) this.starting.add(id)
    let refused: { id: string; holder?: string } | undefined
    try {
      for (const id of lockIds) {
        const acquired = await this.locks.acquire(id, this.owner, runId, (state) => ownerIsDead(state.owner))
        if (!acquired) {
          refused = { id, holder: (await this.locks.read(id).catch(() => undefined))?.owner }
          break
        }
        handles.push(acquired.handle)
      }
    } catch (error) {
      await releaseAll()
      throw error
    } finally {
      for (const id of lockIds) this.starting.delete(id)
    }
    if (refused) {
      await releaseAll()
      return busy(refused.id, refused.holder)
    }
    try {
      // Holding the locks, no other run of these jobs can be alive: any still marked running lost its process.
      for (const id of lockIds) {
        for (const stale of (await this.history.runs(id, 20)).filter((r) => r.status === 'running' && r.runId !== runId)) {
          await this.markAbandoned(stale, await this.locks.read(id).catch(() => undefined))
        }
      }
      if (request.scheduledFor) {
        const latest = await this.history.latest(job.id)
        if (latest && Date.parse(latest.startedAt) >= request.scheduledFor.getTime()) {
          await releaseAll()
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
      const run = this.execute(job, record, handles)
      this.active.set(job.id, run)
      for (const id of lockIds) this.held.set(id, job.id)
      this.watchIdle()
      void run.done
        .finally(() => {
          this.active.delete(job.id)
          for (const id of lockIds) this.held.delete(id)
          this.watchIdle()
        })
        .catch(() => undefined)
      return { started: true, record: { ...record }, done: run.done }
    } catch (error) {
      await releaseAll()
      throw error
    }
  }

  /** Runs and waits for the end; the record says succeeded or failed. */
  async run(job: Job, request: StartRequest): Promise<RunRecord | undefined> {
    const result = await this.start(job, request)
    return result.started ? result.done : undefined
  }

  /**
   * Marks every run left `running` by a dead process as failed (JOB_ABANDONED), alerting once for each: for
   * each job, under its lock, so two processes starting at once mark (and alert) a run once. Returns the
   * marked runs, and when to look again for runs whose lock has not expired yet (their holder may be alive).
   */
  async sweepAbandoned(jobIds: Iterable<string>): Promise<{ marked: RunRecord[]; recheckAt?: number }> {
    const marked: RunRecord[] = []
    let recheckAt: number | undefined
    for (const jobId of new Set(jobIds)) {
      if (this.held.has(jobId) || this.starting.has(jobId)) continue
      const running = (await this.history.runs(jobId, 20)).filter((r) => r.status === 'running')
      if (running.length === 0) continue
      const lock = await this.locks.read(jobId).catch(() => undefined)
      if (lock && running.some((r) => lockShowsRunning(r, lock, this.locks))) {
        recheckAt = Math.min(recheckAt ?? Infinity, Date.parse(lock.expiresAt) + 1000)
        continue
      }
      const sweepId = `sweep-${randomUUID().slice(0, 8)}`
      const acquired = await this.locks.acquire(jobId, this.owner, sweepId, (state) => ownerIsDead(state.owner)).catch(() => undefined)
      if (!acquired) continue // someone started a run meanwhile; its start marks the stale ones
      try {
        for (const stale of (await this.history.runs(jobId, 20)).filter((r) => r.status === 'running')) {
          marked.push(await this.markAbandoned(stale, lock))
        }
      } finally {
        await acquired.handle.release().catch(() => undefined)
      }
    }
    return { marked, ...(recheckAt !== undefined ? { recheckAt } : {}) }
  }

  private async markAbandoned(record: RunRecord, lock: Awaited<ReturnType<JobLocks['read']>>): Promise<RunRecord> {
    const final: RunRecord = { ...record, status: 'failed', endedAt: new Date().toISOString(), error: abandonedError(record, lock) }
    await this.history.write(final)
    this.logger.warn({ job: record.job, runId: record.runId, owner: record.owner }, `run ${record.runId} of job ${record.job} was abandoned by ${record.owner}; marked failed`)
    this.options.metrics?.runFinished(record.job, 'failed')
    await this.raiseAlerts(final, this.logger)
    return final
  }

  private execute(job: Job, record: RunRecord, handles: LockHandle[]): ActiveRun {
    const stopper = new RunStopper()
    return { done: this.runToEnd(job, record, handles, stopper), stop: (reason, graceMs) => stopper.stop(reason, graceMs) }
  }

  private async runToEnd(job: Job, record: RunRecord, handles: LockHandle[], stopper: RunStopper): Promise<RunRecord> {
    const logger = childLogger(this.logger, { job: job.id, runId: record.runId })
    const started = performance.now()
    const signal = stopper.signal
    const deadlineMs = this.deadlineOf(job)
    stopper.deadline(deadlineMs, this.stopGraceMs, () => {
      logger.error({ runTimeoutMs: deadlineMs }, `job ${job.id} passed its deadline of ${deadlineMs} ms; aborting run ${record.runId}`)
      return new ColdpipeError('JOB_DEADLINE_EXCEEDED', `job ${job.id}: run ${record.runId} passed its deadline of ${deadlineMs} ms and was aborted`, {
        context: { job: job.id, runId: record.runId, runTimeoutMs: deadlineMs },
      })
    })
    let ended = false
    let writes: Promise<void> = Promise.resolve()
    const persist = (next: RunRecord): Promise<void> => {
      writes = writes.then(() => this.history.write(next)).catch((error: unknown) => logger.warn({ err: messageOf(error) }, 'could not record run'))
      return writes
    }
    const renewal = setInterval(() => {
      for (const lock of handles) {
        lock.renew().catch((error: unknown) => {
          if (ended) return
          logger.error({ err: messageOf(error), lock: lock.state.job }, `lost the lock ${lock.state.job} of job ${job.id}; stopping the run`)
          if (isColdpipeError(error, 'JOB_LEASE_LOST')) stopper.stop(error, this.stopGraceMs)
        })
      }
    }, Math.max(200, Math.floor(this.options.lockLeaseMs / 3)))
    renewal.unref()
    const settings = this.options.retry
    const policy = retry(handleWhen(canRetry), {
      maxAttempts: settings.maxAttempts,
      backoff: new ExponentialBackoff({ initialDelay: settings.initialDelayMs, maxDelay: settings.maxDelayMs, generator: halfJitterGenerator }),
    })
    policy.onRetry((event) => {
      const error = 'error' in event ? event.error : undefined
      logger.warn({ attempt: event.attempt, delayMs: Math.round(event.delay), err: messageOf(error) }, `job ${job.id} attempt failed; retrying in ${Math.round(event.delay)} ms`)
    })
    logger.info({ trigger: record.trigger, options: record.options, runTimeoutMs: deadlineMs }, `job ${job.id} started`)
    const attempts = policy
      .execute(async ({ attempt }) => {
        signal.throwIfAborted()
        record.attempts = attempt + 1
        // Recorded in the background (in order, before the final record) so the attempt starts right after its backoff.
        if (attempt > 0) persist({ ...record })
        return job.run({ runId: record.runId, trigger: record.trigger, attempt: attempt + 1, signal, logger, options: record.options ?? {} })
      }, signal)
      .then(
        (result) => ({ result, error: undefined as unknown, stray: false }),
        (error: unknown) => ({ result: undefined, error: error ?? new Error('the job rejected with no reason'), stray: false }),
      )
    // Whichever comes first: the run's own end, or the end of its grace after it was stopped.
    const outcome = await Promise.race([attempts, stopper.givenUp.then(() => ({ result: undefined, error: signal.reason as unknown, stray: true }))])
    ended = true
    stopper.end()
    clearInterval(renewal)
    let final: RunRecord
    if (outcome.error === undefined) {
      const result = outcome.result
      final = {
        ...record,
        status: 'succeeded',
        endedAt: new Date().toISOString(),
        ...(result?.rows !== undefined ? { rows: result.rows } : {}),
        ...(result?.info ? { info: result.info } : {}),
        ...(result?.warnings?.length ? { warnings: result.warnings } : {}),
      }
      logger.info({ rows: result?.rows, attempts: record.attempts, durationMs: Math.round(performance.now() - started) }, `job ${job.id} succeeded`)
    } else {
      const reason = signal.aborted && signal.reason !== undefined ? signal.reason : outcome.error
      final = { ...record, status: 'failed', endedAt: new Date().toISOString(), error: errorSummary(reason) }
      logger.error({ err: final.error, attempts: record.attempts }, `job ${job.id} failed after ${record.attempts} attempt(s): ${final.error!.code}: ${final.error!.message}`)
      if (outcome.stray) {
        logger.warn({}, `job ${job.id} did not stop within its grace after being aborted; recorded failed, its work is left to finish on its own`)
        void attempts.then((late) =>
          logger.warn({ lateError: late.error === undefined ? undefined : messageOf(late.error) }, `stray run ${record.runId} of job ${job.id} ended after it was recorded failed; its result is ignored`),
        )
      }
    }
    await persist(final)
    this.options.metrics?.runFinished(job.id, final.status as 'succeeded' | 'failed', (performance.now() - started) / 1000, final.rows)
    await this.raiseAlerts(final, logger)
    for (const lock of handles) await lock.release().catch((error: unknown) => logger.warn({ err: messageOf(error) }, 'could not release job lock'))
    await this.history.prune(job.id).catch(() => undefined)
    return final
  }

  private async raiseAlerts(final: RunRecord, logger: Logger): Promise<void> {
    if (!this.options.alert) return
    const base = { job: final.job, runId: final.runId, trigger: final.trigger, at: final.endedAt!, attempts: final.attempts }
    try {
      if (final.status === 'failed') {
        await this.options.alert({ type: 'job.failed', ...base, error: { code: final.error!.code, message: final.error!.message } })
        return
      }
      if (final.warnings?.length) await this.options.alert({ type: 'job.warning', ...base, warnings: final.warnings })
      const previous = (await this.history.runs(final.job, 20)).find((r) => r.runId !== final.runId && r.status !== 'running')
      if (previous?.status === 'failed') await this.options.alert({ type: 'job.recovered', ...base, previousFailedRunId: previous.runId })
    } catch (error) {
      logger.warn({ err: messageOf(error) }, 'alert hook failed')
    }
  }

  /**
   * The process has nothing left to wait for while runs are unfinished: their work can never settle (a
   * promise nobody will resolve, a bug). End them now rather than let the process exit with them `running`.
   */
  private readonly onIdle = (): void => {
    for (const [jobId, run] of this.active) {
      run.stop(
        new ColdpipeError('INTERNAL', `job ${jobId} stopped making progress: its work waits on something that can never happen (a bug); run ended as failed`, {
          context: { job: jobId },
        }),
        0,
      )
    }
  }

  private watchIdle(): void {
    const want = this.active.size > 0
    if (want === this.idleWatch) return
    this.idleWatch = want
    if (want) process.on('beforeExit', this.onIdle)
    else process.off('beforeExit', this.onIdle)
  }

  /**
   * Aborts running jobs and waits up to `graceMs` for them to end; a run still going then is recorded
   * failed (shutdown) and its locks released, so nothing is left shown running.
   */
  async close(graceMs = this.stopGraceMs): Promise<void> {
    const running = [...this.active.values()]
    const reason = new ColdpipeError('JOB_FAILED', 'coldpipe is shutting down', { canRetry: true, context: { reason: 'shutdown' } })
    for (const run of running) run.stop(reason, graceMs)
    await Promise.allSettled(running.map((r) => r.done))
    this.unregisterOwner()
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
