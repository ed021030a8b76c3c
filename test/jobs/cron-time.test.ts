import cron from 'node-cron'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { isColdpipeError } from '../../core/errors.ts'
import { parseCronSchedule } from '../../jobs/index.ts'

describe('cron schedule times', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('reads 02:00 Europe/Berlin as 01:00 UTC in winter and 00:00 UTC in summer', () => {
    const nightly = parseCronSchedule('0 2 * * *', 'Europe/Berlin')
    expect(nightly.next(new Date('2026-01-15T12:00:00Z'))?.toISOString()).toBe('2026-01-16T01:00:00.000Z')
    expect(nightly.next(new Date('2026-07-15T12:00:00Z'))?.toISOString()).toBe('2026-07-16T00:00:00.000Z')
    expect(nightly.previous(new Date('2026-07-15T12:00:00Z'))?.toISOString()).toBe('2026-07-15T00:00:00.000Z')
  })

  it('skips the missing 02:00 on the spring-forward day and takes the later 02:00 on the fall-back day, as node-cron does', () => {
    const nightly = parseCronSchedule('0 2 * * *', 'Europe/Berlin')
    // 2026-03-29: clocks jump 02:00 -> 03:00 CEST, so there is no 02:00 that day.
    expect(nightly.next(new Date('2026-03-28T12:00:00Z'))?.toISOString()).toBe('2026-03-30T00:00:00.000Z')
    expect(nightly.previous(new Date('2026-03-29T23:00:00Z'))?.toISOString()).toBe('2026-03-28T01:00:00.000Z')
    // 2026-10-25: 02:00-03:00 happens twice; node-cron fires once, at the second (CET) 02:00.
    expect(nightly.previous(new Date('2026-10-25T12:00:00Z'))?.toISOString()).toBe('2026-10-25T01:00:00.000Z')

    vi.useFakeTimers({ toFake: ['Date'] })
    for (const start of ['2026-03-27T12:00:00Z', '2026-10-23T12:00:00Z']) {
      vi.setSystemTime(new Date(start))
      const task = cron.createTask('0 2 * * *', () => undefined, { timezone: 'Europe/Berlin' })
      const theirs = task.getNextRuns(4).map((d) => d.toISOString())
      const ours: string[] = []
      let at = new Date(start)
      for (let i = 0; i < 4; i++) {
        at = nightly.next(at)!
        ours.push(at.toISOString())
      }
      expect(ours).toEqual(theirs)
      void task.destroy()
    }
  })

  it('finds the previous slot of 6-field, weekday and month-end expressions', () => {
    expect(parseCronSchedule('*/5 * * * * *', 'UTC').previous(new Date('2026-01-01T00:00:07.500Z'))?.toISOString()).toBe('2026-01-01T00:00:05.000Z')
    expect(parseCronSchedule('*/5 * * * * *', 'UTC').previous(new Date('2026-01-01T00:00:05.000Z'))?.toISOString()).toBe('2026-01-01T00:00:00.000Z')
    expect(parseCronSchedule('0 9 * * mon', 'America/New_York').previous(new Date('2026-11-25T00:00:00Z'))?.toISOString()).toBe('2026-11-23T14:00:00.000Z')
    expect(parseCronSchedule('30 23 L * *', 'UTC').previous(new Date('2026-03-15T00:00:00Z'))?.toISOString()).toBe('2026-02-28T23:30:00.000Z')
    expect(parseCronSchedule('0 0 29 2 *', 'UTC').previous(new Date('2026-11-25T00:00:00Z'))?.toISOString()).toBe('2024-02-29T00:00:00.000Z')
  })

  it('rejects a bad expression or timezone with a coded error', () => {
    for (const [expression, zone] of [['61 * * * *', 'UTC'], ['0 2 * * *', 'Mars/Olympus']] as const) {
      try {
        parseCronSchedule(expression, zone)
        expect.unreachable()
      } catch (error) {
        expect(isColdpipeError(error, 'JOB_SCHEDULE_INVALID')).toBe(true)
      }
    }
  })
})
