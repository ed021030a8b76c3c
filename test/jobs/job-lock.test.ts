import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { isColdpipeError } from '../../core/errors.ts'
import { JobLocks, JobRunner, RunHistory } from '../../jobs/index.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { holderProcess } from './holder-process.ts'

describe('job locks in the lake', () => {
  it('creates <lake>/_state/locks/<job>.json put-if-absent and refuses a second holder', async () => {
    const lake = await tempDir()
    const locks = new JobLocks({ lakeRoot: lake, leaseMs: 60_000 })
    const first = await locks.acquire('export:ordering', 'a', 'run-1')
    expect(first?.handle.state.owner).toBe('a')
    expect(await readdir(join(lake, '_state', 'locks'))).toEqual(['export:ordering.json'])
    expect(await locks.acquire('export:ordering', 'b', 'run-2')).toBeUndefined()
    await first!.handle.renew()
    await first!.handle.release()
    expect((await locks.acquire('export:ordering', 'b', 'run-3'))?.handle.state.owner).toBe('b')
  })

  it('lets exactly one of many contenders take over an expired lock', async () => {
    const lake = await tempDir()
    let now = 1_000_000
    const clock = (): number => now
    const dead = await new JobLocks({ lakeRoot: lake, leaseMs: 1000, now: clock }).acquire('publish', 'dead', 'run-dead')
    expect(dead).toBeDefined()
    now += 5000
    const contenders = Array.from({ length: 8 }, (_, i) => new JobLocks({ lakeRoot: lake, leaseMs: 1000, now: clock }).acquire('publish', `c${i}`, `run-${i}`))
    const results = await Promise.all(contenders)
    const winners = results.filter((r) => r !== undefined)
    expect(winners).toHaveLength(1)
    const current = await new JobLocks({ lakeRoot: lake, leaseMs: 1000, now: clock }).read('publish')
    expect(current?.token).toBe(winners[0]!.handle.state.token)
    // The dead holder, waking up, finds it lost the lock and cannot renew or release someone else's.
    await expect(dead!.handle.renew()).rejects.toSatisfy((e: unknown) => isColdpipeError(e, 'JOB_LEASE_LOST'))
    await dead!.handle.release()
    expect((await new JobLocks({ lakeRoot: lake, leaseMs: 1000, now: clock }).read('publish'))?.owner).toBe(winners[0]!.handle.state.owner)
  })

  it('hands the job to another process once its holder dies without releasing, and marks the dead run failed', async () => {
    const lake = await tempDir()
    const leaseMs = 1500
    const holder = await holderProcess(lake, 'export:ordering', leaseMs)
    const runner = new JobRunner({ lakeRoot: lake, retry: { maxAttempts: 0, initialDelayMs: 1, maxDelayMs: 1 }, lockLeaseMs: leaseMs, owner: 'survivor' })
    const job = { id: 'export:ordering', kind: 'export', run: async () => ({ rows: 7 }) }

    // While the holder lives it keeps renewing, so the job stays its own well past one lease.
    const waitedUntil = Date.now() + leaseMs * 2
    await waitFor(async () => {
      await expect(runner.start(job, { trigger: 'manual' })).rejects.toSatisfy((e: unknown) => isColdpipeError(e, 'JOB_ALREADY_RUNNING'))
      return Date.now() > waitedUntil
    }, { timeoutMs: 20_000, intervalMs: 200 })

    await holder.kill()
    const record = await waitFor(async () => runner.run(job, { trigger: 'schedule' }), { timeoutMs: 20_000, intervalMs: 100, message: 'lock taken over' })
    expect(record).toMatchObject({ status: 'succeeded', rows: 7, owner: 'survivor' })
    const dead = await new RunHistory(lake).get('export:ordering', holder.runId)
    expect(dead).toMatchObject({ status: 'failed', error: { code: 'JOB_ABANDONED' } })
  }, 240_000)
})
