import { describe, expect, it, onTestFinished } from 'vitest'
import { parseConfig } from '../../cli/config/index.ts'
import { isColdpipeError } from '../../core/errors.ts'
import { buildJobsFromConfig } from '../../cli/build-jobs.ts'
import { collectStatus, JobRunner, renderStatus, RunHistory, startScheduler, type Job } from '../../jobs/index.ts'
import { httpCapture } from '../helpers/http-capture.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { holderProcess } from './holder-process.ts'
import { gate, jobsConfig } from './job-fixtures.ts'

describe('abandoned runs', () => {
  it('shows a dead process\'s run abandoned, marks it at the next scheduler start for every job, alerts once, and runs the job normally after', async () => {
    const lake = await tempDir()
    const hook = await httpCapture()
    // Two real processes hold runs (a lease far longer than the test) and die without a word.
    const [publishHolder, goneHolder] = await Promise.all([holderProcess(lake, 'publish', 600_000, 'default'), holderProcess(lake, 'export:gone', 600_000, 'default')])
    const jobs = [{ id: 'publish', kind: 'publish' }]
    const before = await collectStatus({ lakeRoot: lake, jobs })
    expect(before.jobs[0]!.lastRun).toMatchObject({ runId: publishHolder.runId, status: 'running' })

    await Promise.all([publishHolder.kill(), goneHolder.kill()])
    // Status and history show it as it is, before anyone marked it.
    const after = await collectStatus({ lakeRoot: lake, jobs })
    expect(after.jobs[0]).toMatchObject({ failing: true, lastRun: { runId: publishHolder.runId, status: 'failed', error: { code: 'JOB_ABANDONED' } } })
    expect(renderStatus(after)).toMatch(/publish .* abandoned/)
    expect((await new RunHistory(lake).get('publish', publishHolder.runId))?.status).toBe('running')

    let runs = 0
    const publish: Job = { id: 'publish', kind: 'publish', run: async () => (runs++, { rows: 1 }) }
    const config = jobsConfig({ alertWebhookUrl: hook.url, lockLeaseMs: 600_000 })
    const first = await startScheduler({ jobs: [publish], lakeRoot: lake, config, schedule: false })
    onTestFinished(() => first.close())
    const history = new RunHistory(lake)
    // Marked at start, also for a job this process does not know (export:gone), before any run of it.
    expect(await history.get('publish', publishHolder.runId)).toMatchObject({ status: 'failed', error: { code: 'JOB_ABANDONED' } })
    expect(await history.get('export:gone', goneHolder.runId)).toMatchObject({ status: 'failed', error: { code: 'JOB_ABANDONED' } })
    expect(runs).toBe(0)
    await waitFor(() => hook.requests.length >= 2)

    // A second process starting on the same lake marks nothing again: one alert per abandoned run.
    const second = await startScheduler({ jobs: [publish], lakeRoot: lake, config, schedule: false })
    await second.close()
    expect(await first.runNow('publish')).toMatchObject({ status: 'succeeded', rows: 1 })
    await waitFor(() => hook.requests.length >= 3)
    const alerts = hook.requests.map((q) => JSON.parse(q.body))
    expect(alerts.filter((a) => a.type === 'job.failed').map((a) => `${a.job} ${a.runId} ${a.error.code}`).sort()).toEqual(
      [`export:gone ${goneHolder.runId} JOB_ABANDONED`, `publish ${publishHolder.runId} JOB_ABANDONED`].sort(),
    )
    expect(alerts.filter((a) => a.type === 'job.recovered')).toHaveLength(1)
    expect(hook.requests).toHaveLength(3)
    expect((await first.list())[0]).toMatchObject({ running: false, lastRun: { status: 'succeeded' } })
  }, 300_000)
})

describe('one writer per table', () => {
  it('a run given tables another job owns takes that job\'s lock too, all or none', async () => {
    const dir = await tempDir()
    const config = parseConfig(
      {
        lake: './lake',
        warehouse: './warehouse',
        sources: { shop: { kind: 'postgres', url: 'postgres://postgres@127.0.0.1:5432/test' } },
        exports: [{ source: 'shop', schedule: '0 2 * * *', tables: [{ name: 'orders', schedule: '*/15 * * * *' }, { name: 'brands' }] }],
      },
      { origin: 'test', baseDir: dir, env: {} },
    )
    const held = new Map<string, ReturnType<typeof gate<{ rows: number }>>>()
    const calls: { source: string; tables?: string[] }[] = []
    const jobs = buildJobsFromConfig(config, {
      runExport: async (source, options) => {
        calls.push({ source, ...(options.tables ? { tables: options.tables } : {}) })
        const g = gate<{ rows: number }>()
        held.set(options.runId, g)
        return g.promise
      },
    })
    const job = (id: string): Job => jobs.find((j) => j.id === id)!
    const runner = new JobRunner({ lakeRoot: config.lake, retry: { maxAttempts: 0, initialDelayMs: 1, maxDelayMs: 1 }, lockLeaseMs: 60_000, owner: 'here' })
    const other = new JobRunner({ lakeRoot: config.lake, retry: { maxAttempts: 0, initialDelayMs: 1, maxDelayMs: 1 }, lockLeaseMs: 60_000, owner: 'elsewhere' })

    // The per-table job runs (in another process): a manual source export touching orders is refused at once.
    const orders = await other.start(job('export:shop.orders'), { trigger: 'schedule' })
    if (!orders.started) throw new Error('not started')
    const refused = await runner.start(job('export:shop'), { trigger: 'manual', options: { tables: ['orders', 'brands'] } }).catch((e: unknown) => e)
    expect(isColdpipeError(refused, 'JOB_ALREADY_RUNNING')).toBe(true)
    expect(refused).toMatchObject({ context: { job: 'export:shop', lock: 'export:shop.orders', holder: 'elsewhere' } })
    // All or none: the refused run left the source's own lock free.
    expect(await runner.locks.read('export:shop')).toBeUndefined()
    // The source's scheduled run exports only its own tables, so it may overlap the per-table job.
    const brands = await runner.start(job('export:shop'), { trigger: 'schedule' })
    if (!brands.started) throw new Error('not started')
    expect(calls.at(-1)).toEqual({ source: 'shop', tables: ['brands'] })
    held.get(orders.record.runId)!.open({ rows: 1 })
    held.get(brands.record.runId)!.open({ rows: 1 })
    await Promise.all([orders.done, brands.done])

    // A manual export of every table holds both locks: the per-table schedule tick is skipped meanwhile.
    const all = await runner.start(job('export:shop'), { trigger: 'manual', options: { tables: ['orders', 'brands'] } })
    if (!all.started) throw new Error('not started')
    expect((await runner.locks.read('export:shop.orders'))?.runId).toBe(all.record.runId)
    expect(await other.start(job('export:shop.orders'), { trigger: 'schedule' })).toMatchObject({ started: false })
    held.get(all.record.runId)!.open({ rows: 2 })
    expect(await all.done).toMatchObject({ status: 'succeeded', rows: 2 })
    expect(await runner.locks.read('export:shop.orders')).toBeUndefined()
    const next = await other.start(job('export:shop.orders'), { trigger: 'schedule' })
    if (!next.started) throw new Error('the per-table job should run once the manual export ended')
    held.get(next.record.runId)!.open({ rows: 3 })
    expect(await next.done).toMatchObject({ status: 'succeeded', rows: 3 })
  })
})
