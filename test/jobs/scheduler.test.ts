import { afterEach, describe, expect, it, onTestFinished, vi } from 'vitest'
import { createMetricsRegistry } from '../../core/metrics.ts'
import { RunHistory, startScheduler, type Job, type Scheduler } from '../../jobs/index.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { gate, jobsConfig } from './job-fixtures.ts'

async function scheduler(options: Parameters<typeof startScheduler>[0]): Promise<Scheduler> {
  const s = await startScheduler(options)
  onTestFinished(() => s.close())
  return s
}

describe('scheduler', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('fires a 02:00 Europe/Berlin job at the right UTC instants across the spring DST change', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] })
    vi.setSystemTime(new Date('2026-03-27T12:00:00Z'))
    const lake = await tempDir()
    const firedAt: string[] = []
    const job: Job = { id: 'export:ordering', kind: 'export', schedule: { cron: '0 2 * * *', timezone: 'Europe/Berlin' }, run: async () => (firedAt.push(new Date().toISOString()), { rows: 1 }) }
    const s = await scheduler({ jobs: [job], lakeRoot: lake, config: jobsConfig() })
    const history = new RunHistory(lake)
    // Step an hour at a time, letting each run's real file I/O finish before moving on.
    for (let hour = 0; hour < 24 * 4; hour++) {
      await vi.advanceTimersByTimeAsync(3600_000)
      await s.idle()
    }
    const runs = (await history.runs('export:ordering')).reverse()
    // 28 March 02:00 CET = 01:00Z; 29 March has no 02:00 (clocks jump to 03:00); then 02:00 CEST = 00:00Z.
    expect(runs.map((r) => r.scheduledFor)).toEqual(['2026-03-28T01:00:00.000Z', '2026-03-30T00:00:00.000Z', '2026-03-31T00:00:00.000Z'])
    expect(firedAt).toEqual(['2026-03-28T01:00:00.000Z', '2026-03-30T00:00:00.000Z', '2026-03-31T00:00:00.000Z'])
    expect(runs.every((r) => r.trigger === 'schedule' && r.status === 'succeeded')).toBe(true)
  })

  it('still runs a tick the process noticed late (stalled event loop, sleep), once for a burst of missed slots', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] })
    vi.setSystemTime(new Date('2026-11-25T01:59:30Z'))
    const lake = await tempDir()
    const job: Job = { id: 'publish', kind: 'publish', schedule: { cron: '*/5 * * * *', timezone: 'UTC' }, run: async () => ({}) }
    const s = await scheduler({ jobs: [job], lakeRoot: lake, config: jobsConfig() })
    // The machine sleeps through 02:00 ... 02:15; timers fire only when it wakes at 02:17.
    // (The fake clock jumps without firing timers; the pending wake-up then fires 30 s later, at 02:17:30.)
    vi.setSystemTime(new Date('2026-11-25T02:17:00Z'))
    await vi.advanceTimersByTimeAsync(31_000)
    await s.idle()
    const runs = await new RunHistory(lake).runs('publish')
    expect(runs).toHaveLength(1)
    expect(runs[0]).toMatchObject({ trigger: 'schedule', status: 'succeeded' })
    expect(['2026-11-25T02:00:00.000Z', '2026-11-25T02:05:00.000Z', '2026-11-25T02:10:00.000Z', '2026-11-25T02:15:00.000Z']).toContain(runs[0]!.scheduledFor)
  })

  it('with schedule: false fires nothing until startSchedules(), then follows the schedule', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] })
    vi.setSystemTime(new Date('2026-11-25T10:00:30Z'))
    const lake = await tempDir()
    const job: Job = { id: 'publish', kind: 'publish', schedule: { cron: '* * * * *', timezone: 'UTC' }, run: async () => ({}) }
    const s = await scheduler({ jobs: [job], lakeRoot: lake, config: jobsConfig(), schedule: false })
    await vi.advanceTimersByTimeAsync(3 * 60_000)
    await s.idle()
    expect(await new RunHistory(lake).runs('publish')).toEqual([])
    s.startSchedules()
    s.startSchedules()
    await vi.advanceTimersByTimeAsync(60_000)
    await s.idle()
    const runs = await new RunHistory(lake).runs('publish')
    expect(runs.map((r) => [r.trigger, r.scheduledFor])).toEqual([['schedule', '2026-11-25T10:04:00.000Z']])
  })

  it('does not start a slow job again while it runs (6-field cron, every second)', async () => {
    const lake = await tempDir()
    const registry = createMetricsRegistry({ defaultMetrics: false })
    const held = gate<{ rows: number }>()
    let calls = 0
    const job: Job = { id: 'publish', kind: 'publish', schedule: { cron: '* * * * * *', timezone: 'UTC' }, run: () => (calls++, calls === 1 ? held.promise : Promise.resolve({ rows: 2 })) }
    const s = await scheduler({ jobs: [job], lakeRoot: lake, config: jobsConfig(), metrics: registry })
    const skipped = async (): Promise<number> => {
      const metric = (await registry.getSingleMetric('coldpipe_job_runs_total')!.get()).values
      return metric.find((v) => v.labels.status === 'skipped')?.value ?? 0
    }
    await waitFor(() => calls === 1, { message: 'first tick ran' })
    await waitFor(async () => (await skipped()) >= 2, { message: 'ticks skipped while busy' })
    expect(calls).toBe(1)
    expect((await s.list())[0]).toMatchObject({ id: 'publish', running: true })
    held.open({ rows: 1 })
    await waitFor(() => calls >= 2, { message: 'ran again once free' })
    await s.close()
    const runs = await new RunHistory(lake).runs('publish')
    // Runs never overlapped: each started after the previous ended.
    const ordered = [...runs].reverse()
    for (let i = 1; i < ordered.length; i++) expect(ordered[i]!.startedAt >= ordered[i - 1]!.endedAt!).toBe(true)
  })

  it('runs a job once at start-up after downtime, not once per missed slot, and only in one of two processes', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const lake = await tempDir()
    let calls = 0
    const job: Job = { id: 'export:catalog', kind: 'export', schedule: { cron: '0 3 * * *', timezone: 'UTC' }, run: async () => (calls++, { rows: 1 }) }
    const config = jobsConfig({ catchUpOnStart: true })

    vi.setSystemTime(new Date('2026-11-20T12:00:00Z'))
    const first = await scheduler({ jobs: [job], lakeRoot: lake, config })
    expect(await first.catchUp).toEqual([]) // a fresh install has missed nothing
    await first.close()

    // Down for five nights.
    vi.setSystemTime(new Date('2026-11-25T12:00:00Z'))
    const [a, b] = await Promise.all([
      scheduler({ jobs: [job], lakeRoot: lake, config, owner: 'a' }),
      scheduler({ jobs: [job], lakeRoot: lake, config, owner: 'b' }),
    ])
    const caught = [...(await a.catchUp), ...(await b.catchUp)]
    expect(calls).toBe(1)
    expect(caught).toHaveLength(1)
    expect(caught[0]).toMatchObject({ trigger: 'catch-up', scheduledFor: '2026-11-25T03:00:00.000Z', status: 'succeeded' })

    // Restarting again the same day finds nothing missed.
    const again = await scheduler({ jobs: [job], lakeRoot: lake, config })
    expect(await again.catchUp).toEqual([])
    expect(calls).toBe(1)
  })

  it("keeps other sources' jobs running when one source fails", async () => {
    const lake = await tempDir()
    const jobs: Job[] = ['ordering', 'catalog', 'identity'].map((source) => ({
      id: `export:${source}`,
      kind: 'export',
      source,
      schedule: { cron: '* * * * * *', timezone: 'UTC' },
      run: async () => {
        if (source === 'catalog') throw new Error(`${source} is down`)
        return { rows: 1 }
      },
    }))
    const s = await scheduler({ jobs, lakeRoot: lake, config: jobsConfig() })
    const history = new RunHistory(lake)
    await waitFor(async () => (await history.runs('export:ordering')).filter((r) => r.status === 'succeeded').length >= 2)
    await waitFor(async () => (await history.runs('export:identity')).filter((r) => r.status === 'succeeded').length >= 2)
    expect((await history.runs('export:catalog')).some((r) => r.status === 'failed')).toBe(true)
    const listed = await s.list()
    expect(listed.find((j) => j.id === 'export:catalog')?.lastRun?.error?.message).toBe('catalog is down')
  })

  it('runs a job on demand and answers JOB_NOT_FOUND for unknown ones', async () => {
    const lake = await tempDir()
    const s = await scheduler({ jobs: [{ id: 'retention', kind: 'retention', run: async () => ({ rows: 0 }) }], lakeRoot: lake, config: jobsConfig(), schedule: false })
    expect(await s.runNow('retention')).toMatchObject({ trigger: 'manual', status: 'succeeded' })
    expect(await s.history('retention')).toHaveLength(1)
    await expect(s.runNow('nope')).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' })
  })
})
