import type { ColdpipeConfig } from './config/index.ts'
import { ColdpipeError } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import { cronProblem, timezoneProblem } from '../core/config/index.ts'
import type { Job, JobContext, JobResult, JobSchedule, RunOptions, RunWarning, SourceHealthProvider } from '../jobs/job-types.ts'
import type { JobDescription } from '../jobs/status.ts'

/** What a stage function gets from a job run. */
export interface StageCall {
  runId: string
  signal: AbortSignal
  logger: Logger
}

/**
 * The stage functions jobs call, injected by whoever wires coldpipe together (the `start` command).
 * Each returns whatever it returns; a numeric `rows` (or an array of records with `rows`) is counted.
 */
export interface JobStageDeps {
  runExport?: (source: string, options: StageCall & RunOptions) => Promise<unknown>
  publish?: (call: StageCall) => Promise<unknown>
  compact?: (call: StageCall) => Promise<unknown>
  applyRetention?: (call: StageCall) => Promise<unknown>
  /** Reconciliation of the warehouse against the sources; without it the job runs warehouse/reconcile with the config. */
  reconcile?: (call: StageCall) => Promise<unknown>
  /** Live breaker state of the sources the stages talk to, for status. */
  sourceHealth?: SourceHealthProvider
}

/** A schedule from config, checked now so a typo names its field at start-up rather than failing at night. */
function checkedSchedule(schedule: JobSchedule, path: string): JobSchedule {
  // The config's own validation checks the same; this guards configs built in code. The scheduler parses the
  // schedule when it starts: parsing it here would build an Intl formatter (15-30 ms) in every command.
  const problem = cronProblem(schedule.cron) ?? timezoneProblem(schedule.timezone)
  if (problem) throw new ColdpipeError('CONFIG_INVALID', `invalid configuration\n  ${path}: ${problem}`, { context: { path } })
  return schedule
}

/** The jobs a config defines, without anything to run them: for `coldpipe status` and listings. */
export function describeJobsFromConfig(config: ColdpipeConfig): JobDescription[] {
  const seen = new Set<string>()
  const jobs: JobDescription[] = config.exports.flatMap((exp, i) => {
    const id = `export:${exp.source}`
    if (seen.has(id)) {
      throw new ColdpipeError('CONFIG_INVALID', `exports[${i}].source: source "${exp.source}" has a second exports entry; merge its tables into one`, {
        context: { path: `exports[${i}].source` },
      })
    }
    seen.add(id)
    const schedule = exp.schedule ? checkedSchedule({ cron: exp.schedule, timezone: exp.timezone }, `exports[${i}].schedule`) : undefined
    const timeout = exp.runTimeoutMs !== undefined ? { runTimeoutMs: exp.runTimeoutMs } : {}
    // Tables with a schedule of their own get a job of their own, and the source's job leaves them out.
    const own = (exp.tables ?? []).flatMap((table, j) => {
      if (!table.schedule) return []
      const tableSchedule = checkedSchedule({ cron: table.schedule, timezone: table.timezone ?? exp.timezone }, `exports[${i}].tables[${j}].schedule`)
      const runTimeoutMs = table.runTimeoutMs ?? exp.runTimeoutMs
      return [{ id: `export:${exp.source}.${table.name}`, kind: 'export', source: exp.source, tables: [table.name], schedule: tableSchedule, ...(runTimeoutMs !== undefined ? { runTimeoutMs } : {}) }]
    })
    const rest = own.length ? (exp.tables ?? []).filter((t) => !t.schedule).map((t) => t.name) : undefined
    const sourceJob: JobDescription = { id, kind: 'export', source: exp.source, ...(rest ? { tables: rest } : {}), ...(schedule ? { schedule } : {}), ...timeout }
    return [sourceJob, ...own]
  })
  for (const kind of ['publish', 'compaction', 'retention'] as const) {
    const scheduled = config.jobs[kind]
    const schedule = scheduled ? checkedSchedule({ cron: scheduled.schedule, timezone: scheduled.timezone }, `jobs.${kind}.schedule`) : undefined
    jobs.push({ id: kind, kind, ...(schedule ? { schedule } : {}), ...(scheduled?.runTimeoutMs !== undefined ? { runTimeoutMs: scheduled.runTimeoutMs } : {}) })
  }
  // Listed once configured (`jobs.reconcile`); `coldpipe reconcile` runs it by hand either way.
  const reconcile = config.jobs.reconcile
  if (reconcile) jobs.push(reconcileJobDescription(config))
  return jobs
}

/** The `reconcile` job as data: manual unless `jobs.reconcile.schedule` is set. */
export function reconcileJobDescription(config: ColdpipeConfig): JobDescription {
  const reconcile = config.jobs.reconcile
  const reconcileSchedule = reconcile?.schedule ? checkedSchedule({ cron: reconcile.schedule, timezone: reconcile.timezone }, 'jobs.reconcile.schedule') : undefined
  return { id: 'reconcile', kind: 'reconcile', ...(reconcileSchedule ? { schedule: reconcileSchedule } : {}), ...(reconcile?.runTimeoutMs !== undefined ? { runTimeoutMs: reconcile.runTimeoutMs } : {}) }
}

/** Counts rows in whatever a stage returned: `{rows}`, or a list of run records with `rows`. */
export function toJobResult(value: unknown): JobResult {
  if (Array.isArray(value)) {
    const rows = value.reduce<number>((sum, item) => sum + (typeof item?.rows === 'number' ? item.rows : 0), 0)
    return { rows, info: { items: value.length } }
  }
  if (value && typeof value === 'object') {
    const { rows, warnings, ...rest } = value as { rows?: unknown; warnings?: unknown }
    return {
      ...(typeof rows === 'number' ? { rows } : {}),
      info: rest as Record<string, unknown>,
      ...(Array.isArray(warnings) && warnings.length > 0 ? { warnings: warnings as RunWarning[] } : {}),
    }
  }
  return {}
}

/** Jobs for every export source and for publish, compaction and retention, calling the injected stages. */
export function buildJobsFromConfig(config: ColdpipeConfig, deps: JobStageDeps): Job[] {
  const missing = (id: string, what: string): never => {
    throw new ColdpipeError('JOB_NOT_CONFIGURED', `job ${id} cannot run: this process has no ${what} wired in`, { context: { job: id } })
  }
  const call = (ctx: JobContext): StageCall => ({ runId: ctx.runId, signal: ctx.signal, logger: ctx.logger })
  const stage: Record<string, keyof JobStageDeps> = { publish: 'publish', compaction: 'compact', retention: 'applyRetention', reconcile: 'reconcile' }
  const descriptions = describeJobsFromConfig(config)
  // Which job owns each table that has a job of its own; every other table belongs to its source's job.
  const tableOwner = new Map(descriptions.filter((d) => d.kind === 'export' && d.id !== `export:${d.source}`).map((d) => [`${d.source}.${d.tables![0]}`, d.id]))
  return descriptions.map((description): Job => {
    if (description.kind === 'export') {
      const source = description.source!
      const { tables, ...job } = description
      const defaults = tables ? { tables } : {}
      return {
        ...job,
        acceptsOptions: ['full', 'cursorRange', 'tables'],
        // One writer per table: a run given tables another job owns holds that job's lock as well.
        leases: (options) => (options.tables ?? tables ?? []).map((t) => tableOwner.get(`${source}.${t}`) ?? `export:${source}`),
        run: async (ctx) => toJobResult(await (deps.runExport ?? missing(description.id, 'exporter'))(source, { ...call(ctx), ...defaults, ...ctx.options })),
      }
    }
    const fn = (deps[stage[description.kind]!] ?? (description.kind === 'reconcile' ? reconcileStage(config) : undefined)) as ((c: StageCall) => Promise<unknown>) | undefined
    return { ...description, run: async (ctx) => toJobResult(await (fn ?? missing(description.id, `${description.kind} stage`))(call(ctx))) }
  })
}

/** The `reconcile` job, whether or not the config lists it (for `coldpipe reconcile`). */
export function buildReconcileJob(config: ColdpipeConfig, deps: JobStageDeps): Job {
  const description = reconcileJobDescription(config)
  const stage = deps.reconcile ?? reconcileStage(config)
  return { ...description, run: async (ctx) => toJobResult(await stage({ runId: ctx.runId, signal: ctx.signal, logger: ctx.logger })) }
}

/** The reconcile job's default stage: warehouse/reconcile over the config (loaded when the job first runs). */
export function reconcileStage(config: ColdpipeConfig): (call: StageCall) => Promise<unknown> {
  return async (call) => {
    const { reconcileJobResult } = await import('../warehouse/reconcile/reconcile-job.ts')
    return reconcileJobResult(config, call)
  }
}
