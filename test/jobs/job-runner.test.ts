import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ColdpipeError, isColdpipeError } from '../../core/errors.ts'
import { createMetricsRegistry } from '../../core/metrics.ts'
import { createAlerter, createJobMetrics, JobRunner, RunHistory, type Job } from '../../jobs/index.ts'
import { httpCapture } from '../helpers/http-capture.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { gate, recordingLogger, settle } from './job-fixtures.ts'

function runner(lake: string, extra: Partial<ConstructorParameters<typeof JobRunner>[0]> = {}): JobRunner {
  return new JobRunner({ lakeRoot: lake, retry: { maxAttempts: 0, initialDelayMs: 1, maxDelayMs: 1 }, lockLeaseMs: 60_000, owner: 'test', ...extra })
}

describe('job runner', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('keeps a durable run record per run: running, then succeeded with rows and info', async () => {
    const lake = await tempDir()
    const held = gate<{ rows: number; info: Record<string, unknown> }>()
    const seen: Record<string, unknown>[] = []
    const job: Job = {
      id: 'publish',
      kind: 'publish',
      run: (ctx) => {
        seen.push({ runId: ctx.runId, trigger: ctx.trigger, attempt: ctx.attempt })
        return held.promise
      },
    }
    const r = runner(lake)
    const started = await r.start(job, { trigger: 'manual' })
    expect(started.started).toBe(true)
    if (!started.started) return
    const history = new RunHistory(lake)
    expect(await history.get('publish', started.record.runId)).toMatchObject({ status: 'running', trigger: 'manual', attempts: 0 })
    held.open({ rows: 42, info: { snapshot: 3 } })
    const final = await started.done
    expect(final).toMatchObject({ job: 'publish', status: 'succeeded', rows: 42, info: { snapshot: 3 }, attempts: 1 })
    expect(seen).toEqual([{ runId: started.record.runId, trigger: 'manual', attempt: 1 }])
    expect(await history.get('publish', final.runId)).toEqual(final)
    expect(await readdir(join(lake, '_state', 'jobs', 'publish'))).toContain(`${final.runId}.json`)
    // The lock is gone after the run.
    expect(await r.locks.read('publish')).toBeUndefined()
  })

  it('never runs a job twice at once: a second start while it runs is refused', async () => {
    const lake = await tempDir()
    const held = gate<{ rows: number }>()
    let calls = 0
    const job: Job = { id: 'export:ordering', kind: 'export', run: () => (calls++, held.promise) }
    const metrics = createJobMetrics(createMetricsRegistry({ defaultMetrics: false }))
    const r = runner(lake, { metrics })
    const first = await r.start(job, { trigger: 'schedule', scheduledFor: new Date(Date.now() - 1000) })
    expect(first.started).toBe(true)
    expect(await r.start(job, { trigger: 'schedule' })).toMatchObject({ started: false })
    await expect(r.start(job, { trigger: 'manual' })).rejects.toSatisfy((e: unknown) => isColdpipeError(e, 'JOB_ALREADY_RUNNING'))
    // Another process on the same lake is refused by the lock.
    await expect(runner(lake, { owner: 'other' }).start(job, { trigger: 'manual' })).rejects.toSatisfy((e: unknown) => isColdpipeError(e, 'JOB_ALREADY_RUNNING'))
    held.open({ rows: 1 })
    if (first.started) await first.done
    expect(calls).toBe(1)
  })

  it('skips a schedule slot another process already ran', async () => {
    const lake = await tempDir()
    const job: Job = { id: 'retention', kind: 'retention', run: async () => ({}) }
    const slot = new Date(Date.now() - 60_000)
    expect(await runner(lake, { owner: 'a' }).run(job, { trigger: 'schedule', scheduledFor: slot })).toMatchObject({ status: 'succeeded' })
    expect(await runner(lake, { owner: 'b' }).start(job, { trigger: 'schedule', scheduledFor: slot })).toMatchObject({ started: false })
    expect(await new RunHistory(lake).runs('retention')).toHaveLength(1)
  })

  it('retries with exponential backoff and jitter, then records attempts', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] })
    vi.setSystemTime(new Date('2026-11-25T02:00:00Z'))
    const lake = await tempDir()
    const attemptsAt: number[] = []
    const job: Job = {
      id: 'export:catalog',
      kind: 'export',
      run: async (ctx) => {
        attemptsAt.push(Date.now())
        if (ctx.attempt < 4) throw new ColdpipeError('SOURCE_CONNECT_FAILED', `attempt ${ctx.attempt}: connection refused`)
        return { rows: 5 }
      },
    }
    const r = runner(lake, { retry: { maxAttempts: 5, initialDelayMs: 1000, maxDelayMs: 60_000 } })
    const started = await r.start(job, { trigger: 'manual' })
    if (!started.started) throw new Error('not started')
    let final: Awaited<typeof started.done> | undefined
    void started.done.then((record) => (final = record))
    await settle(async () => {
      await vi.advanceTimersByTimeAsync(50)
      return final
    })
    expect(final).toMatchObject({ status: 'succeeded', attempts: 4, rows: 5 })
    const delays = attemptsAt.slice(1).map((t, i) => t - attemptsAt[i]!)
    expect(delays).toHaveLength(3)
    // Half jitter: retry k waits between base*2^k/2 and base*2^k.
    delays.forEach((delay, k) => {
      const base = 1000 * 2 ** k
      expect(delay).toBeGreaterThanOrEqual(base / 2)
      expect(delay).toBeLessThan(base)
    })
  })

  it('does not retry an error that says it cannot succeed, and records its code', async () => {
    const lake = await tempDir()
    let calls = 0
    const job: Job = {
      id: 'export:ordering',
      kind: 'export',
      run: async () => {
        calls++
        throw new ColdpipeError('EXPORT_TABLE_NOT_FOUND', 'table ordering.public.ordres does not exist')
      },
    }
    const final = await runner(lake, { retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 2 } }).run(job, { trigger: 'manual' })
    expect(calls).toBe(1)
    expect(final).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'EXPORT_TABLE_NOT_FOUND', message: 'table ordering.public.ordres does not exist' } })
  })

  it('passes backfill options to jobs that accept them and refuses them elsewhere', async () => {
    const lake = await tempDir()
    const got: unknown[] = []
    const exportJob: Job = { id: 'export:ordering', kind: 'export', acceptsOptions: ['full', 'cursorRange', 'tables'], run: async (ctx) => (got.push(ctx.options), {}) }
    const publishJob: Job = { id: 'publish', kind: 'publish', run: async () => ({}) }
    const r = runner(lake)
    const final = await r.run(exportJob, { trigger: 'manual', options: { full: true, tables: ['orders'] } })
    expect(final?.options).toEqual({ full: true, tables: ['orders'] })
    await r.run(exportJob, { trigger: 'manual', options: { cursorRange: { from: '2026-01-01', to: '2026-02-01' } } })
    expect(got).toEqual([{ full: true, tables: ['orders'] }, { cursorRange: { from: '2026-01-01', to: '2026-02-01' } }])
    await expect(r.start(publishJob, { trigger: 'manual', options: { full: true } })).rejects.toSatisfy((e: unknown) => isColdpipeError(e, 'JOB_OPTIONS_INVALID'))
  })

  it('alerts a webhook and the log on failure and on the first success after it', async () => {
    const lake = await tempDir()
    const hook = await httpCapture()
    const { logger, records } = recordingLogger()
    let fail = true
    const job: Job = {
      id: 'export:ordering',
      kind: 'export',
      run: async () => {
        if (fail) throw new ColdpipeError('SOURCE_CONNECT_FAILED', 'connect ECONNREFUSED 10.0.0.5:5432')
        return { rows: 3 }
      },
    }
    const r = runner(lake, { logger, alert: createAlerter({ logger, webhookUrl: hook.url, timeoutMs: 2000 }) })
    const failed = await r.run(job, { trigger: 'schedule' })
    await r.run(job, { trigger: 'schedule' })
    fail = false
    const recovered = await r.run(job, { trigger: 'manual' })
    await r.run(job, { trigger: 'manual' })
    const bodies = hook.requests.map((q) => JSON.parse(q.body))
    expect(hook.requests.every((q) => q.method === 'POST' && q.headers['content-type'] === 'application/json')).toBe(true)
    expect(bodies.map((b) => b.type)).toEqual(['job.failed', 'job.failed', 'job.recovered'])
    expect(bodies[0]).toMatchObject({ job: 'export:ordering', runId: failed!.runId, error: { code: 'SOURCE_CONNECT_FAILED' } })
    expect(bodies[2]).toMatchObject({ runId: recovered!.runId })
    expect(records.filter((x) => x.alert === 'job.failed' && x.level === 50)).toHaveLength(2)
    expect(records.filter((x) => x.alert === 'job.recovered' && x.level === 30)).toHaveLength(1)
    expect(records.every((x) => x.msg === undefined || typeof x.msg === 'string')).toBe(true)
    expect(records.some((x) => x.runId === failed!.runId && x.job === 'export:ordering')).toBe(true)
  })

  it('gives up on a webhook that does not answer without failing or blocking the job', async () => {
    const lake = await tempDir()
    const hook = await httpCapture({ hang: true })
    const { logger, records } = recordingLogger()
    const job: Job = { id: 'compaction', kind: 'compaction', run: async () => Promise.reject(new Error('disk full')) }
    const final = await runner(lake, { logger, alert: createAlerter({ logger, webhookUrl: hook.url, timeoutMs: 200 }) }).run(job, { trigger: 'manual' })
    expect(final).toMatchObject({ status: 'failed', error: { code: 'JOB_FAILED', message: 'disk full' } })
    await waitFor(() => hook.requests.length === 1)
    expect(records.some((x) => typeof x.msg === 'string' && x.msg.includes('alert webhook'))).toBe(true)
  })

  it('counts runs, durations, rows and last success in Prometheus metrics', async () => {
    const lake = await tempDir()
    const registry = createMetricsRegistry({ defaultMetrics: false })
    const metrics = createJobMetrics(registry)
    const r = runner(lake, { metrics })
    await r.run({ id: 'export:ordering', kind: 'export', run: async () => ({ rows: 10 }) }, { trigger: 'manual' })
    await r.run({ id: 'export:ordering', kind: 'export', run: async () => Promise.reject(new Error('boom')) }, { trigger: 'manual' })
    const text = await registry.metrics()
    expect(text).toMatch(/coldpipe_job_runs_total\{job="export:ordering",status="succeeded",app="coldpipe"\} 1/)
    expect(text).toMatch(/coldpipe_job_runs_total\{job="export:ordering",status="failed",app="coldpipe"\} 1/)
    expect(text).toMatch(/coldpipe_job_rows_total\{job="export:ordering",app="coldpipe"\} 10/)
    expect(text).toMatch(/coldpipe_job_run_duration_seconds_count\{[^}]*job="export:ordering",status="succeeded"\} 1/)
    expect(text).toMatch(/coldpipe_job_last_success_timestamp_seconds\{job="export:ordering",app="coldpipe"\} \d+/)
    // A second metrics object on the same registry reuses the metrics instead of throwing.
    expect(() => createJobMetrics(registry)).not.toThrow()
  })

  it('on close aborts running jobs, records them failed, and records one that ignores the signal failed after the grace', async () => {
    const lake = await tempDir()
    const r = runner(lake)
    const polite: Job = {
      id: 'export:ordering',
      kind: 'export',
      run: (ctx) => new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true })),
    }
    const stubborn: Job = { id: 'publish', kind: 'publish', run: () => new Promise(() => undefined) }
    const a = await r.start(polite, { trigger: 'manual' })
    await r.start(stubborn, { trigger: 'manual' })
    await r.close(300)
    if (!a.started) throw new Error('not started')
    expect(await a.done).toMatchObject({ status: 'failed', error: { code: 'JOB_FAILED', message: 'coldpipe is shutting down' } })
    expect(await r.locks.read('export:ordering')).toBeUndefined()
    // The stubborn one is not left shown running: recorded failed (shutdown) and its lock released.
    expect(await new RunHistory(lake).latest('publish')).toMatchObject({ status: 'failed', error: { code: 'JOB_FAILED', message: 'coldpipe is shutting down', context: { reason: 'shutdown' } } })
    expect(await r.locks.read('publish')).toBeUndefined()
  })
})
