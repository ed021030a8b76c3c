import cron, { type Logger as CronLogger, type ScheduledTask } from 'node-cron'
import { Registry as PromRegistry } from 'prom-client'
import { ColdpipeError, messageOf } from '../core/errors.ts'
import { silentLogger, type Logger } from '../core/logger.ts'
import type { Registry } from '../core/metrics.ts'
import { createAlerter, type Alerter } from './alerter.ts'
import { parseCronSchedule, type CronSchedule } from './cron-time.ts'
import { createJobMetrics, type JobMetrics } from './job-metrics.ts'
import { JobRunner, runnerSettings } from './job-runner.ts'
import type { Job, RunOptions, RunRecord } from './job-types.ts'
import type { JobsConfig } from './jobs-config.ts'
import { liveRuns } from './run-liveness.ts'

export interface SchedulerOptions {
  jobs: Job[]
  lakeRoot: string
  config: JobsConfig
  logger?: Logger
  /** Prometheus registry the job metrics go to (core/metrics.ts). */
  metrics?: Registry
  /** Replaces the default alerter (log record + POST to config.alertWebhookUrl). */
  alert?: Alerter
  /** Lock/run owner id of this process. */
  owner?: string
  /** Install node-cron timers (default true); false gives a scheduler for manual runs until startSchedules() (CLI, tests, the demo's set-up). */
  schedule?: boolean
}

export interface JobSummary {
  id: string
  kind: string
  source?: string
  schedule?: { cron: string; timezone: string }
  nextRunAt?: string
  running: boolean
  lastRun?: RunRecord
}

export interface Scheduler {
  /** Runs a job now and waits for its end. JOB_NOT_FOUND, JOB_ALREADY_RUNNING, JOB_OPTIONS_INVALID. */
  runNow(jobId: string, options?: RunOptions): Promise<RunRecord>
  /** Starts a job now; resolves when it is recorded as running, with a promise of its end. */
  start(jobId: string, options?: RunOptions): Promise<{ record: RunRecord; done: Promise<RunRecord> }>
  list(): Promise<JobSummary[]>
  history(jobId: string, limit?: number): Promise<RunRecord[]>
  job(jobId: string): Job
  readonly metrics: JobMetrics
  /** Installs the cron timers of a scheduler started with `schedule: false` (no-op when installed). */
  startSchedules(): void
  /** Resolves when no scheduled or catch-up run is in flight (for shutdown and tests). */
  idle(): Promise<void>
  /** Catch-up runs started at start-up (resolves when they end). */
  readonly catchUp: Promise<RunRecord[]>
  close(): Promise<void>
}

/**
 * Schedules jobs with node-cron in their timezones; a job never overlaps itself (in-process, and across
 * processes through its lock in the lake). At start, a job whose latest schedule slot passed with no run
 * since runs once (catch-up), however many slots were missed.
 */
export async function startScheduler(options: SchedulerOptions): Promise<Scheduler> {
  const logger = options.logger ?? silentLogger
  const config = options.config
  const metrics = createJobMetrics(options.metrics ?? new PromRegistry())
  const alert = options.alert ?? createAlerter({ logger, webhookUrl: config.alertWebhookUrl, timeoutMs: config.alertTimeoutMs ?? 5000 })
  const runner = new JobRunner({
    lakeRoot: options.lakeRoot,
    ...runnerSettings(config),
    logger,
    metrics,
    alert,
    owner: options.owner,
  })
  const jobs = new Map<string, Job>()
  const schedules = new Map<string, CronSchedule>()
  for (const job of options.jobs) {
    if (jobs.has(job.id)) throw new ColdpipeError('CONFIG_INVALID', `job ${job.id} is defined twice`, { context: { job: job.id } })
    jobs.set(job.id, job)
    if (job.schedule) schedules.set(job.id, parseCronSchedule(job.schedule.cron, job.schedule.timezone))
  }
  const find = (jobId: string): Job => {
    const job = jobs.get(jobId)
    if (!job) {
      throw new ColdpipeError('JOB_NOT_FOUND', `no job named ${jobId} (known: ${[...jobs.keys()].join(', ') || 'none'})`, { context: { job: jobId } })
    }
    return job
  }

  const inFlight = new Set<Promise<unknown>>()
  const scheduled = (job: Job, slot: Date, trigger: 'schedule' | 'catch-up'): Promise<RunRecord | undefined> => {
    const run = runScheduled(job, slot, trigger)
    inFlight.add(run)
    void run.finally(() => inFlight.delete(run))
    return run
  }
  const runScheduled = async (job: Job, slot: Date, trigger: 'schedule' | 'catch-up'): Promise<RunRecord | undefined> => {
    try {
      const result = await runner.start(job, { trigger, scheduledFor: slot })
      if (!result.started) {
        logger.info({ job: job.id, slot: slot.toISOString() }, `skipped ${trigger} run of ${job.id}: ${result.reason}`)
        return undefined
      }
      return await result.done
    } catch (error) {
      logger.error({ job: job.id, err: messageOf(error) }, `could not start ${trigger} run of ${job.id}: ${messageOf(error)}`)
      return undefined
    }
  }

  const tasks: ScheduledTask[] = []
  const now = new Date()
  const slotsToCatchUp: { job: Job; slot: Date }[] = []
  for (const [jobId, schedule] of schedules) {
    const job = jobs.get(jobId)!
    const registeredAt = await runner.history.registeredAt(jobId, now)
    if (config.catchUpOnStart) {
      const slot = schedule.previous(now)
      const last = await runner.history.latest(jobId)
      const since = last ? new Date(last.startedAt) : registeredAt
      if (slot && slot.getTime() > since.getTime()) slotsToCatchUp.push({ job, slot })
    }
  }
  // Timers are installed now, or later by startSchedules() (a caller that must finish set-up runs first).
  let closed = false
  const installSchedules = (): void => {
    if (closed || tasks.length > 0) return
    for (const [jobId, schedule] of schedules) {
      const job = jobs.get(jobId)!
      const task = cron.schedule(schedule.expression, (ctx) => scheduled(job, ctx.date, 'schedule'), {
        timezone: schedule.timezone,
        name: jobId,
        // The runner refuses overlap itself (in-process and through the lake lock) and counts the skipped tick.
        noOverlap: false,
        missedExecutionTolerance: 60_000,
        suppressMissedWarning: true,
        logger: cronLogger(logger.child({ job: jobId })),
      })
      // A tick node-cron saw too late (event loop stalled, machine asleep) still runs; the runner makes
      // a burst of missed ticks one run, and skips a slot some process already ran.
      task.on('execution:missed', (ctx) => {
        logger.warn({ job: jobId, slot: ctx.date.toISOString() }, `job ${jobId} fired late for ${ctx.date.toISOString()}; running it now`)
        void scheduled(job, ctx.date, 'schedule')
      })
      tasks.push(task)
    }
  }
  if (options.schedule !== false) installSchedules()
  await runner.locks.removeLeftovers().catch(() => undefined)
  // Runs a dead process left `running`, of every job with history (not only this config's), are marked
  // abandoned now; those whose lock has not expired yet (holder on another host?) are looked at again then.
  let sweepTimer: NodeJS.Timeout | undefined
  const sweep = async (): Promise<void> => {
    sweepTimer = undefined
    if (closed) return
    const { marked, recheckAt } = await runner.sweepAbandoned([...jobs.keys(), ...(await runner.history.jobs())])
    if (marked.length > 0) logger.warn({ runs: marked.map((r) => `${r.job}/${r.runId}`) }, `marked ${marked.length} abandoned run(s) failed`)
    if (recheckAt !== undefined && !closed) {
      sweepTimer = setTimeout(() => void sweep().catch((error: unknown) => logger.warn({ err: messageOf(error) }, 'could not check for abandoned runs')), Math.max(1000, recheckAt - Date.now()))
      sweepTimer.unref()
    }
  }
  await sweep().catch((error: unknown) => logger.warn({ err: messageOf(error) }, 'could not check for abandoned runs'))
  const catchUp = Promise.all(
    slotsToCatchUp.map(({ job, slot }) => {
      logger.info({ job: job.id, slot: slot.toISOString() }, `job ${job.id} missed its run of ${slot.toISOString()}; running it once now`)
      return scheduled(job, slot, 'catch-up')
    }),
  ).then((records) => records.filter((r): r is RunRecord => r !== undefined))

  const start: Scheduler['start'] = async (jobId, runOptions) => {
    const result = await runner.start(find(jobId), { trigger: 'manual', options: runOptions })
    if (!result.started) throw new ColdpipeError('JOB_ALREADY_RUNNING', `job ${jobId} is already running`, { context: { job: jobId } })
    return { record: result.record, done: result.done }
  }

  return {
    metrics,
    catchUp,
    start,
    job: find,
    async runNow(jobId, runOptions) {
      return (await start(jobId, runOptions)).done
    },
    async list() {
      return Promise.all(
        [...jobs.values()].map(async (job): Promise<JobSummary> => {
          const schedule = schedules.get(job.id)
          const next = schedule?.next(new Date())
          const [lastRun] = await liveRuns(await runner.history.runs(job.id, 1), runner.history, runner.locks)
          return {
            id: job.id,
            kind: job.kind,
            ...(job.source ? { source: job.source } : {}),
            ...(job.schedule ? { schedule: { ...job.schedule } } : {}),
            ...(next ? { nextRunAt: next.toISOString() } : {}),
            running: runner.isRunning(job.id) || lastRun?.status === 'running',
            ...(lastRun ? { lastRun } : {}),
          }
        }),
      )
    },
    startSchedules: installSchedules,
    async idle() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight])
    },
    async history(jobId, limit) {
      find(jobId)
      return liveRuns(await runner.history.runs(jobId, limit), runner.history, runner.locks)
    },
    async close() {
      closed = true
      clearTimeout(sweepTimer)
      for (const task of tasks) await task.destroy()
      await runner.close()
      await catchUp.catch(() => undefined)
      while (inFlight.size > 0) await Promise.allSettled([...inFlight])
    },
  }
}

/** node-cron's own warnings (missed ticks under load) go to our logger instead of the console. */
function cronLogger(logger: Logger): CronLogger {
  return {
    info: (message) => logger.debug(message),
    warn: (message) => logger.warn(message),
    error: (message) => logger.error({ err: messageOf(message) }, 'node-cron error'),
    debug: (message) => logger.debug(messageOf(message)),
  }
}
