import { describe, expect, it } from 'vitest'
import { isColdpipeError } from '../../core/errors.ts'
import { QueryLimiter } from '../../reports-api/query-limiter.ts'

function limiter(overrides: Partial<ConstructorParameters<typeof QueryLimiter>[0]> = {}) {
  return new QueryLimiter({ name: 'reports', maxRunning: 1, maxQueued: 2, deadlineMs: 200, timeoutCode: 'REPORT_TIMEOUT', ...overrides })
}

/** A piece of work that holds its slot until `release()` is called. */
function holder() {
  let release!: () => void
  const held = new Promise<void>((resolve) => (release = resolve))
  return { release, work: () => held }
}

describe('QueryLimiter', () => {
  it('gives up on a queued request at its deadline with the pool timeout code, while the slot is still held', async () => {
    const pool = limiter()
    const first = holder()
    const running = pool.run(first.work)
    const error = await pool.run(async () => 'never').catch((caught: unknown) => caught)
    // The first request has not let go: only the queue wait can have run out.
    expect(pool.stats).toMatchObject({ running: 1, queued: 0, timedOutInQueue: 1 })
    expect(isColdpipeError(error, 'REPORT_TIMEOUT')).toBe(true)
    expect(error).toMatchObject({ status: 504, context: { pool: 'reports', timeoutMs: 200 } })
    first.release()
    await running
    expect(pool.stats.running).toBe(0)
  })

  it('sheds past maxQueued with OVERLOADED and counts it', async () => {
    const pool = limiter({ maxQueued: 1, deadlineMs: 60_000 })
    const first = holder()
    const running = pool.run(first.work)
    const queued = pool.run(async () => 'second')
    await expect(pool.run(async () => 'third')).rejects.toMatchObject({ code: 'OVERLOADED', context: { pool: 'reports', retryAfterSeconds: 1 } })
    expect(pool.stats).toMatchObject({ running: 1, queued: 1, shed: 1 })
    first.release()
    expect(await queued).toBe('second')
    await running
  })

  it('takes an aborted request out of the queue at once', async () => {
    const pool = limiter({ deadlineMs: 60_000 })
    const first = holder()
    const running = pool.run(first.work)
    const controller = new AbortController()
    const queued = pool.run(async () => 'never', { signal: controller.signal })
    expect(pool.stats.queued).toBe(1)
    controller.abort(new Error('client went away'))
    await expect(queued).rejects.toThrow('client went away')
    expect(pool.stats.queued).toBe(0)
    first.release()
    await running
  })

  it('hands work the slot deadline, counting the queue wait', async () => {
    const pool = limiter({ deadlineMs: 5000 })
    const before = Date.now()
    const deadline = await pool.run(async (slotDeadline) => slotDeadline)
    expect(deadline).toBeGreaterThanOrEqual(before + 5000)
    expect(deadline).toBeLessThanOrEqual(Date.now() + 5000)
    // A caller's earlier deadline (e.g. counted from the request's arrival) wins.
    expect(await pool.run(async (slotDeadline) => slotDeadline, { deadline: before + 10 })).toBe(before + 10)
  })
})
