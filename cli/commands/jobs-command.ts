import type { Command } from 'commander'
import { ColdpipeError } from '../../core/errors.ts'
import type { CommandContext, RegisterCommand } from '../command-context.ts'
import { buildJobsFromConfig, describeJobsFromConfig } from '../build-jobs.ts'
import { loadStageDeps, type StageDepsLoader } from '../stage-deps.ts'
import { RunHistory, startScheduler, type RunOptions, type RunRecord } from '../../jobs/index.ts'
import { JobLocks } from '../../jobs/job-lock.ts'
import { displayStatus, liveRuns } from '../../jobs/run-liveness.ts'
import { formatDuration } from '../../jobs/status.ts'

export interface JobsCommandOptions {
  /** Where the stage functions come from (default: jobs/stage-deps.ts). */
  loadDeps?: StageDepsLoader
  /** Where tables go (default stdout). */
  out?: (text: string) => void
}

function runsTable(runs: RunRecord[]): string {
  if (runs.length === 0) return '(no runs recorded)\n'
  const header = ['job', 'run id', 'trigger', 'started', 'took', 'status', 'attempts', 'rows', 'error']
  const rows = runs.map((r) => [
    r.job,
    r.runId,
    r.trigger,
    r.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    r.endedAt ? formatDuration((Date.parse(r.endedAt) - Date.parse(r.startedAt)) / 1000) : '-',
    displayStatus(r),
    String(r.attempts),
    r.rows === undefined ? '-' : String(r.rows),
    r.error ? `${r.error.code}: ${r.error.message}`.slice(0, 100) : '',
  ])
  const widths = header.map((h, i) => rows.reduce((widest, row) => Math.max(widest, row[i]!.length), h.length))
  return [header, ...rows].map((cells) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n'
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').map((s) => s.trim()).filter(Boolean)]
}

/** `coldpipe jobs list | history [job] | run <job>`; the stage loader is injectable so tests run real small stages. */
export function createRegisterJobsCommand(options: JobsCommandOptions = {}): RegisterCommand {
  const loadDeps = options.loadDeps ?? loadStageDeps
  const out = options.out ?? ((text: string) => void process.stdout.write(text))
  return (program: Command, context: CommandContext) => {
    const jobs = program.command('jobs')

    jobs
      .command('list')
      .description('jobs the config defines, with their schedule and last run')
      .option('--json', 'print JSON')
      .action(async (flags: { json?: boolean }) => {
        const config = await context.config()
        const history = new RunHistory(config.lake)
        const locks = new JobLocks({ lakeRoot: config.lake, leaseMs: config.jobs.lockLeaseMs })
        const list = await Promise.all(
          describeJobsFromConfig(config).map(async (job) => ({ ...job, lastRun: (await liveRuns(await history.runs(job.id, 1), history, locks))[0] })),
        )
        if (flags.json) return out(`${JSON.stringify(list, null, 2)}\n`)
        const rows = list.map((j) => [
          j.id,
          j.schedule ? `${j.schedule.cron} (${j.schedule.timezone})` : 'manual only',
          j.lastRun ? `${displayStatus(j.lastRun)} ${j.lastRun.startedAt}` : 'never run',
        ])
        const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length), ['job', 'schedule', 'last run'][i]!.length))
        out([['job', 'schedule', 'last run'], ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n')
      })

    jobs
      .command('history [job]')
      .description('recorded runs, newest first (all jobs when none is named)')
      .option('-n, --limit <n>', 'runs per job', (v) => Number(v), 20)
      .option('--json', 'print JSON')
      .action(async (jobId: string | undefined, flags: { limit: number; json?: boolean }) => {
        const config = await context.config()
        const history = new RunHistory(config.lake)
        const known = new Set([...describeJobsFromConfig(config).map((j) => j.id), ...(await history.jobs())])
        if (jobId && !known.has(jobId)) {
          throw new ColdpipeError('JOB_NOT_FOUND', `no job named ${jobId} (known: ${[...known].join(', ')})`, { context: { job: jobId } })
        }
        const locks = new JobLocks({ lakeRoot: config.lake, leaseMs: config.jobs.lockLeaseMs })
        // A run left `running` by a dead process shows as abandoned, never as running.
        const runs = (await Promise.all([...(jobId ? [jobId] : known)].map(async (id) => liveRuns(await history.runs(id, flags.limit), history, locks))))
          .flat()
          .sort((a, b) => b.startedAt.localeCompare(a.startedAt))
        out(flags.json ? `${JSON.stringify(runs, null, 2)}\n` : runsTable(runs))
      })

    jobs
      .command('run <job>')
      .description('run a job now (e.g. export:ordering, publish) and wait for it; exits 1 if it fails')
      .option('--full', 'export: re-export every table in full (backfill)')
      .option('--from <cursor>', 'export: backfill from this cursor value')
      .option('--to <cursor>', 'export: backfill up to this cursor value')
      .option('--tables <names>', 'export: only these tables (comma separated)', collect)
      .option('--json', 'print the run record as JSON')
      .action(async (jobId: string, flags: { full?: boolean; from?: string; to?: string; tables?: string[]; json?: boolean }) => {
        const config = await context.config()
        const logger = context.logger
        const deps = await loadDeps(config, logger, context.onShutdown)
        const scheduler = await startScheduler({
          jobs: buildJobsFromConfig(config, deps),
          lakeRoot: config.lake,
          config: { ...config.jobs, catchUpOnStart: false },
          logger,
          schedule: false,
        })
        context.onShutdown(() => scheduler.close())
        const runOptions: RunOptions = {
          ...(flags.full ? { full: true } : {}),
          ...(flags.from || flags.to ? { cursorRange: { ...(flags.from ? { from: flags.from } : {}), ...(flags.to ? { to: flags.to } : {}) } } : {}),
          ...(flags.tables ? { tables: flags.tables } : {}),
        }
        const record = await scheduler.runNow(jobId, runOptions)
        out(flags.json ? `${JSON.stringify(record, null, 2)}\n` : runsTable([record]))
        if (record.status === 'failed') {
          throw new ColdpipeError('JOB_FAILED', `job ${jobId} failed: ${record.error?.code ?? ''} ${record.error?.message ?? 'unknown error'}`, {
            context: { job: jobId, runId: record.runId, cause: record.error },
          })
        }
      })
  }
}

export const registerJobsCommand: RegisterCommand = createRegisterJobsCommand()
