import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../cli/config/index.ts'
import { ColdpipeError } from '../../core/errors.ts'
import { collectStatus, JobRunner, renderStatus, type Job } from '../../jobs/index.ts'
import { describeJobsFromConfig } from '../../cli/build-jobs.ts'
import { SourceGuard } from '../../ingest/export/index.ts'
import { statusWorld } from './status-fixtures.ts'

const root = new URL('../..', import.meta.url).pathname
const run = promisify(execFile)

async function recordRuns(lake: string): Promise<void> {
  const runner = new JobRunner({ lakeRoot: lake, retry: { maxAttempts: 0, initialDelayMs: 1, maxDelayMs: 1 }, lockLeaseMs: 60_000, owner: 'test' })
  const ok: Job = { id: 'export:ordering', kind: 'export', run: async () => ({ rows: 1200 }) }
  const bad: Job = { id: 'export:catalog', kind: 'export', run: async () => Promise.reject(new ColdpipeError('SOURCE_CONNECT_FAILED', 'connect ECONNREFUSED 127.0.0.1:3306')) }
  await runner.run(ok, { trigger: 'schedule' })
  await runner.run(bad, { trigger: 'schedule' })
}

describe('status', () => {
  it('collects jobs, freshness per source, ingest lag, snapshot age and open breakers as data', async () => {
    const now = new Date()
    const world = await statusWorld(now)
    await recordRuns(world.lake)
    const config = loadConfig(world.configFile)
    const guard = new SourceGuard({
      sources: { catalog: { retryMaxAttempts: 0, retryInitialDelayMs: 1, retryMaxDelayMs: 1, breakerFailureThreshold: 1, breakerHalfOpenAfterMs: 60_000 } },
    })
    await guard.execute('catalog', async () => Promise.reject(new ColdpipeError('SOURCE_CONNECT_FAILED', 'connection refused'))).catch(() => undefined)

    const status = await collectStatus({
      lakeRoot: config.lake,
      warehousePath: config.warehouse.path,
      jobs: describeJobsFromConfig(config),
      sources: Object.keys(config.sources),
      health: guard,
      now,
    })
    expect(status.jobs.map((j) => j.id)).toEqual(['export:ordering', 'export:catalog', 'publish', 'compaction', 'retention'])
    expect(status.jobs[0]).toMatchObject({ failing: false, lastRun: { status: 'succeeded', rows: 1200 }, schedule: { cron: '0 2 * * *', timezone: 'Europe/Berlin' } })
    expect(status.jobs[1]).toMatchObject({ failing: true, lastRun: { status: 'failed', error: { code: 'SOURCE_CONNECT_FAILED' } } })
    expect(status.jobs[0]!.nextRunAt! > now.toISOString()).toBe(true)
    expect(status.snapshot).toMatchObject({ id: 1, ageSeconds: 45 * 60, lakeVersion: 0 })
    expect(status.lake.version).toBe(2)
    const ordering = status.sources.find((s) => s.source === 'ordering')!
    expect(ordering.ingestLagSeconds).toBe(5 * 60)
    expect(ordering.snapshotLagSeconds).toBe(90 * 60)
    expect(ordering.lakeAsOf).toBe(new Date(now.getTime() - 30 * 60_000).toISOString())
    expect(status.sources.find((s) => s.source === 'identity')).toMatchObject({ tables: [] })
    expect(status.sources.find((s) => s.source === 'identity')!.ingestLagSeconds).toBeUndefined()
    expect(status.ingestLagSeconds).toBe(5 * 60)
    expect(status.openBreakers).toEqual(['catalog'])

    const text = renderStatus(status)
    expect(text).toContain('snapshot  #1 published')
    expect(text).toContain('(45m ago')
    expect(text).toContain('ingest lag  5m\n')
    expect(text).toMatch(/breakers {2}OPEN: catalog \(open since .*SOURCE_CONNECT_FAILED connection refused\)$/m)
    expect(text).toMatch(/export:catalog +30 2 \* \* \* UTC .*failed/)
    expect(text).toMatch(/identity +no data/)
  })

  it('says unknown for ingest lag and snapshot when nothing has landed', async () => {
    const status = await collectStatus({ lakeRoot: '/nonexistent/lake', warehousePath: '/nonexistent/warehouse', jobs: [], sources: ['ordering'] })
    expect(status).toMatchObject({ lake: { version: -1 }, jobs: [], openBreakers: [] })
    expect(status.ingestLagSeconds).toBeUndefined()
    const text = renderStatus(status)
    expect(text).toContain('ingest lag  unknown')
    expect(text).toContain('snapshot  none published yet')
  })

  it('prints one screen from `coldpipe --config X status`, and jobs history, in a child process', async () => {
    const world = await statusWorld(new Date())
    await recordRuns(world.lake)
    const cli = (...args: string[]) => run(process.execPath, [join(root, 'bin/coldpipe.mjs'), '--config', world.configFile, ...args], { cwd: root })
    const { stdout } = await cli('status')
    expect(stdout).toContain('JOBS')
    expect(stdout).toMatch(/export:ordering .*succeeded +1200/)
    expect(stdout).toContain('FRESHNESS')
    // The world is 5 minutes behind when written; a slow child start adds to it.
    expect(stdout).toMatch(/ingest lag {2}(5m|[5-9]m\d+s|\d\dm)/)
    const json = JSON.parse((await cli('status', '--json')).stdout)
    expect(json.snapshot.id).toBe(1)

    const history = (await cli('jobs', 'history', 'export:catalog')).stdout
    expect(history).toMatch(/export:catalog +export-\S+ +schedule .* failed +1 +- +SOURCE_CONNECT_FAILED/)
    const list = (await cli('jobs', 'list')).stdout
    expect(list).toMatch(/publish +0 4 \* \* \* \(UTC\) +never run/)
    await expect(cli('jobs', 'history', 'export:nope')).rejects.toMatchObject({ stderr: expect.stringContaining('JOB_NOT_FOUND') })
    // Five CLI processes in a row: tens of seconds each on a loaded two-core machine.
  }, 300_000)
})
