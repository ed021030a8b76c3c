import { Command } from 'commander'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../cli/config/index.ts'
import { isColdpipeError } from '../../core/errors.ts'
import { createCommandContext } from '../../cli/command-context.ts'
import { createRegisterJobsCommand } from '../../cli/commands/jobs-command.ts'
import { buildJobsFromConfig, type JobStageDeps } from '../../cli/build-jobs.ts'
import { RunHistory } from '../../jobs/index.ts'
import { CommitLog } from '../../lake/index.ts'
import { postgresSchema } from '../helpers/databases.ts'
import { statusWorld } from './status-fixtures.ts'

/**
 * Small real stages: the "exporter" counts rows of a real Postgres table and commits a watermark to the lake;
 * "publish" records a commit too. They stand where the exporter and warehouse will be wired in.
 */
async function realStages(lake: string): Promise<{ deps: JobStageDeps; calls: unknown[] }> {
  const { client, schema } = await postgresSchema()
  await client.query(`CREATE TABLE ${schema}.orders AS SELECT g AS id, now() AS updated_at FROM generate_series(1, 25) g`)
  const calls: unknown[] = []
  const deps: JobStageDeps = {
    async runExport(source, options) {
      calls.push({ source, full: options.full, cursorRange: options.cursorRange, tables: options.tables })
      const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.orders`)
      const log = await CommitLog.open(lake)
      await log.commit({
        kind: 'export',
        runId: options.runId,
        idempotencyKey: `export:${options.runId}:${source}.orders`,
        watermarks: [{ key: `export:${source}.orders`, service: source, table: 'orders', kind: 'export-full', position: null, asOf: new Date().toISOString() }],
      })
      return [{ table: 'orders', rows: Number(rows[0]!.n) }]
    },
    async publish({ runId }) {
      const log = await CommitLog.open(lake)
      return { rows: 0, lakeVersion: log.latestVersion, runId }
    },
  }
  return { deps, calls }
}

async function cli(configFile: string, deps: JobStageDeps, ...args: string[]): Promise<string> {
  const program = new Command().exitOverride().option('-c, --config <file>').option('--log-level <level>')
  let output = ''
  const closers: (() => Promise<void> | void)[] = []
  const context = createCommandContext(program, (close) => closers.push(close))
  createRegisterJobsCommand({ loadDeps: async () => deps, out: (text) => (output += text) })(program, context)
  try {
    await program.parseAsync(['node', 'coldpipe', '--config', configFile, '--log-level', 'silent', ...args])
  } finally {
    for (const close of closers.reverse()) await close()
  }
  return output
}

describe('coldpipe jobs', () => {
  it('runs an export job from config with --full and --tables, passing them through to the exporter', async () => {
    const world = await statusWorld(new Date())
    const { deps, calls } = await realStages(world.lake)
    const out = await cli(world.configFile, deps, 'jobs', 'run', 'export:ordering', '--full', '--tables', 'orders', '--json')
    const record = JSON.parse(out)
    expect(record).toMatchObject({ job: 'export:ordering', trigger: 'manual', status: 'succeeded', rows: 25, options: { full: true, tables: ['orders'] } })
    expect(calls).toEqual([{ source: 'ordering', full: true, cursorRange: undefined, tables: ['orders'] }])
    await cli(world.configFile, deps, 'jobs', 'run', 'export:ordering', '--from', '2026-11-01', '--to', '2026-11-02')
    expect(calls[1]).toMatchObject({ cursorRange: { from: '2026-11-01', to: '2026-11-02' } })
    expect(await new RunHistory(world.lake).runs('export:ordering')).toHaveLength(2)
    const history = await cli(world.configFile, deps, 'jobs', 'history', 'export:ordering')
    expect(history.trim().split('\n')).toHaveLength(3)
  })

  it('fails a run with a coded error when a stage is not wired, and refuses backfill options on publish', async () => {
    const world = await statusWorld(new Date())
    const { deps } = await realStages(world.lake)
    await expect(cli(world.configFile, deps, 'jobs', 'run', 'compaction')).rejects.toSatisfy((e: unknown) => isColdpipeError(e, 'JOB_FAILED'))
    const [run] = await new RunHistory(world.lake).runs('compaction')
    expect(run).toMatchObject({ status: 'failed', error: { code: 'JOB_NOT_CONFIGURED' } })
    await expect(cli(world.configFile, deps, 'jobs', 'run', 'publish', '--full')).rejects.toSatisfy((e: unknown) => isColdpipeError(e, 'JOB_OPTIONS_INVALID'))
    expect(JSON.parse(await cli(world.configFile, deps, 'jobs', 'run', 'publish', '--json'))).toMatchObject({ status: 'succeeded', info: { lakeVersion: 2 } })
  })

  it('builds one job per export source plus publish, compaction and retention', async () => {
    const world = await statusWorld(new Date())
    const jobs = buildJobsFromConfig(loadConfig(world.configFile), {})
    expect(jobs.map((j) => [j.id, j.schedule?.cron, j.schedule?.timezone])).toEqual([
      ['export:ordering', '0 2 * * *', 'Europe/Berlin'],
      ['export:catalog', '30 2 * * *', 'UTC'],
      ['publish', '0 4 * * *', 'UTC'],
      // Maintenance is scheduled by default, so a lake left alone stays within its bounds.
      ['compaction', '*/15 * * * *', 'UTC'],
      ['retention', '30 3 * * *', 'UTC'],
    ])
  })

  it('shows a run left running by a process that is gone as abandoned in jobs history and jobs list', async () => {
    const world = await statusWorld(new Date())
    const { deps } = await realStages(world.lake)
    const history = new RunHistory(world.lake)
    // As a killed process leaves it: the record says running, and no lock backs it any more.
    await history.write({ job: 'export:ordering', kind: 'export', runId: 'export-dead-1', trigger: 'schedule', startedAt: new Date().toISOString(), status: 'running', attempts: 1, owner: 'gone-host:1:deadbeef' })
    const runs = await cli(world.configFile, deps, 'jobs', 'history', 'export:ordering')
    expect(runs).toMatch(/export:ordering +export-dead-1 +schedule .* abandoned +1 +- +JOB_ABANDONED: run export-dead-1 of job export:ordering was left running by gone-host:1:deadbeef/)
    expect(await cli(world.configFile, deps, 'jobs', 'list')).toMatch(/export:ordering .* abandoned /)
    // Only shown so: the record is marked by the next scheduler start or run of the job.
    expect((await history.get('export:ordering', 'export-dead-1'))?.status).toBe('running')
  })

  it('takes run deadlines per kind from jobs.runTimeoutMs and per job from the export, table or job entry', async () => {
    const world = await statusWorld(new Date())
    const config = loadConfig(world.configFile)
    expect(config.jobs.runTimeoutMs).toEqual({ export: 14_400_000, publish: 3_600_000, compaction: 7_200_000, retention: 3_600_000 })
    config.exports[0]!.runTimeoutMs = 600_000
    config.jobs.publish = { schedule: '0 4 * * *', timezone: 'UTC', runTimeoutMs: 120_000 }
    const jobs = buildJobsFromConfig(config, {})
    expect(Object.fromEntries(jobs.map((j) => [j.id, j.runTimeoutMs]))).toEqual({
      'export:ordering': 600_000,
      'export:catalog': undefined,
      publish: 120_000,
      compaction: undefined,
      retention: undefined,
    })
  })

  it('names the config field of a bad schedule', async () => {
    const world = await statusWorld(new Date())
    const config = loadConfig(world.configFile)
    config.jobs.publish = { schedule: '0 25 * * *', timezone: 'UTC' }
    expect(() => buildJobsFromConfig(config, {})).toThrow(/jobs\.publish\.schedule: cron expression "0 25 \* \* \*" is not valid/)
    config.jobs.publish = undefined
    config.exports[1]!.timezone = 'Europe/Atlantis'
    expect(() => buildJobsFromConfig(config, {})).toThrow(/exports\[1\]\.schedule: timezone "Europe\/Atlantis"/)
  })
})
