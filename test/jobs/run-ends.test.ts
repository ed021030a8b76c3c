import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createAlerter, JobRunner, RunHistory, type Job } from '../../jobs/index.ts'
import { httpCapture } from '../helpers/http-capture.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { gate, recordingLogger } from './job-fixtures.ts'

const root = new URL('../..', import.meta.url).pathname

function runner(lake: string, extra: Partial<ConstructorParameters<typeof JobRunner>[0]> = {}): JobRunner {
  return new JobRunner({ lakeRoot: lake, retry: { maxAttempts: 0, initialDelayMs: 1, maxDelayMs: 1 }, lockLeaseMs: 60_000, owner: 'test', stopGraceMs: 200, ...extra })
}

describe('every run ends', () => {
  it('aborts a run at its deadline, records it failed once even if the job ignores the signal, and frees the job', async () => {
    const lake = await tempDir()
    const hook = await httpCapture()
    const { logger } = recordingLogger()
    const late = gate<{ rows: number }>()
    let calls = 0
    let sawAbort: unknown
    const job: Job = {
      id: 'export:ordering',
      kind: 'export',
      runTimeoutMs: 300,
      run: (ctx) => {
        calls++
        ctx.signal.addEventListener('abort', () => (sawAbort = ctx.signal.reason), { once: true })
        // Ignores the signal: only the test ends it, long after the deadline.
        return calls === 1 ? late.promise : Promise.resolve({ rows: 2 })
      },
    }
    const r = runner(lake, { logger, alert: createAlerter({ logger, webhookUrl: hook.url, timeoutMs: 5000 }) })
    const final = await r.run(job, { trigger: 'schedule' })
    expect(final).toMatchObject({ status: 'failed', error: { code: 'JOB_DEADLINE_EXCEEDED', context: { job: 'export:ordering', runTimeoutMs: 300 } } })
    expect(final!.error!.message).toContain('export:ordering')
    expect(final!.error!.message).toContain('300 ms')
    expect(sawAbort).toMatchObject({ code: 'JOB_DEADLINE_EXCEEDED' })
    expect(await r.locks.read('export:ordering')).toBeUndefined()
    expect(r.isRunning('export:ordering')).toBe(false)

    // The stray promise ends later with a result: the failed record stands.
    late.open({ rows: 99 })
    await new Promise((resolve) => setImmediate(resolve))
    expect(await new RunHistory(lake).get('export:ordering', final!.runId)).toMatchObject({ status: 'failed', error: { code: 'JOB_DEADLINE_EXCEEDED' } })

    // The next run goes on normally, and the failure alerted exactly once (then a recovery).
    expect(await r.run(job, { trigger: 'schedule' })).toMatchObject({ status: 'succeeded', rows: 2 })
    await waitFor(() => hook.requests.length >= 2)
    expect(hook.requests.map((q) => JSON.parse(q.body).type)).toEqual(['job.failed', 'job.recovered'])
    expect(JSON.parse(hook.requests[0]!.body)).toMatchObject({ runId: final!.runId, error: { code: 'JOB_DEADLINE_EXCEEDED' } })
  })

  it('takes the deadline per kind from the runner and per job from the job', async () => {
    const r = runner(await tempDir(), { runTimeoutMs: { export: 5000, publish: 7000 } })
    expect(r.deadlineOf({ id: 'publish', kind: 'publish', run: async () => ({}) })).toBe(7000)
    expect(r.deadlineOf({ id: 'export:a', kind: 'export', runTimeoutMs: 1234, run: async () => ({}) })).toBe(1234)
    // A kind with no setting of its own gets the longest one.
    expect(r.deadlineOf({ id: 'odd', kind: 'odd', run: async () => ({}) })).toBe(jobsLongest(r))
  })

  it('ends as failed on any error: a thrown string, an object, undefined, a synchronous throw, a rejected inner promise', async () => {
    const lake = await tempDir()
    const r = runner(lake)
    const cases: [Job['run'], RegExp][] = [
      [async () => Promise.reject('disk on fire'), /not an Error: disk on fire/],
      [async () => Promise.reject({ why: 'odd' }), /not an Error: \{"why":"odd"\}/],
      [async () => Promise.reject(undefined), /no reason|undefined/],
      [() => { throw new TypeError("Cannot read properties of undefined (reading 'rows')") }, /Cannot read properties/],
      [async () => { await Promise.all([Promise.resolve(1), Promise.reject(new RangeError('inner'))]); return {} }, /inner/],
    ]
    for (const [run, message] of cases) {
      const final = await r.run({ id: 'compaction', kind: 'compaction', run }, { trigger: 'manual' })
      expect(final).toMatchObject({ status: 'failed', error: { code: 'JOB_FAILED' } })
      expect(final!.error!.message).toMatch(message)
    }
    const runs = await new RunHistory(lake).runs('compaction')
    expect(runs).toHaveLength(cases.length)
    expect(runs.every((x) => x.status === 'failed')).toBe(true)
  })

  it('ends a run whose work can never settle when the process has nothing left to wait for (no exit 13)', async () => {
    const lake = await tempDir()
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'test/jobs/fixtures/stalled-job.ts'), lake], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()))
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    expect(err).toBe('')
    expect(code).toBe(0)
    const final = JSON.parse(out.trim())
    expect(final).toMatchObject({ job: 'publish', status: 'failed', error: { code: 'INTERNAL' } })
    expect(await new RunHistory(lake).get('publish', final.runId)).toMatchObject({ status: 'failed', error: { code: 'INTERNAL' } })
  }, 180_000)
})

function jobsLongest(r: JobRunner): number {
  return Math.max(...['export', 'publish', 'compaction', 'retention'].map((kind) => r.deadlineOf({ id: kind, kind, run: async () => ({}) })))
}
