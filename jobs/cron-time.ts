import cron from 'node-cron'
import { ColdpipeError } from '../core/errors.ts'

/**
 * Times of a cron schedule in a timezone. node-cron fires the schedule and says when it fires next, but
 * has no "previous", which catch-up needs; this computes both the same way node-cron does: a local time
 * that does not exist (spring-forward gap) is skipped, an ambiguous one (fall-back) is its later instant.
 */
export interface CronSchedule {
  expression: string
  timezone: string
  matches(date: Date): boolean
  /** The latest matching instant strictly before `date`, or undefined within the search window. */
  previous(date: Date): Date | undefined
  /** The earliest matching instant strictly after `date`. */
  next(date: Date): Date | undefined
}

interface Fields {
  second: number[]
  minute: number[]
  hour: number[]
  dayOfMonth: (number | string)[]
  month: number[]
  dayOfWeek: (number | string)[]
}

const searchDays = 366 * 5
const slackMs = 2 * 3600_000

export function parseCronSchedule(expression: string, timezone: string): CronSchedule {
  const checked = cron.validateDetailed(expression)
  if (!checked.valid) {
    const why = checked.errors.map((e) => `${e.field}: ${e.message}`).join('; ')
    throw new ColdpipeError('JOB_SCHEDULE_INVALID', `cron expression "${expression}" is not valid: ${why}`, { context: { expression } })
  }
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone })
  } catch {
    throw new ColdpipeError('JOB_SCHEDULE_INVALID', `timezone "${timezone}" is not an IANA timezone`, { context: { timezone } })
  }
  const fields = cron.parse(expression) as Fields
  const parts = partsFormatter(timezone)
  const localParts = (date: Date): LocalParts => readParts(parts, date)
  const matches = (date: Date): boolean => {
    const p = localParts(date)
    return (
      fields.second.includes(p.second) &&
      fields.minute.includes(p.minute) &&
      fields.hour.includes(p.hour) &&
      fields.month.includes(p.month) &&
      dayMatches(fields, p.year, p.month, p.day)
    )
  }
  const desc = (values: number[]): number[] => [...values].sort((a, b) => b - a)
  const asc = (values: number[]): number[] => [...values].sort((a, b) => a - b)
  const [hoursAsc, minutesAsc, secondsAsc] = [asc(fields.hour), asc(fields.minute), asc(fields.second)]
  const [hoursDesc, minutesDesc, secondsDesc] = [desc(fields.hour), desc(fields.minute), desc(fields.second)]

  const search = (from: Date, direction: 1 | -1): Date | undefined => {
    const bound = from.getTime()
    const start = localParts(from)
    const boundWall = Date.UTC(start.year, start.month - 1, start.day, start.hour, start.minute, start.second)
    let day = Date.UTC(start.year, start.month - 1, start.day)
    // One extra day each side covers instants whose local date differs around DST changes.
    day -= direction * 86_400_000
    for (let i = 0; i < searchDays; i++, day += direction * 86_400_000) {
      const d = new Date(day)
      const [year, month, dom] = [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()]
      if (!fields.month.includes(month) || !dayMatches(fields, year, month, dom)) continue
      // Wall-clock order matches instant order except within a DST shift, so wall times more than two
      // hours on the wrong side of the bound are skipped without converting them.
      const wrongSide = (h: number, m0: number, s0: number, m1: number, s1: number): boolean =>
        direction === 1
          ? Date.UTC(year, month - 1, dom, h, m1, s1) < boundWall - slackMs
          : Date.UTC(year, month - 1, dom, h, m0, s0) > boundWall + slackMs
      for (const hour of direction === 1 ? hoursAsc : hoursDesc) {
        if (wrongSide(hour, 0, 0, 59, 59)) continue
        for (const minute of direction === 1 ? minutesAsc : minutesDesc) {
          if (wrongSide(hour, minute, 0, minute, 59)) continue
          for (const second of direction === 1 ? secondsAsc : secondsDesc) {
            const ts = localToInstant({ year, month, day: dom, hour, minute, second }, timezone, parts)
            if (direction === 1 ? ts <= bound : ts >= bound) continue
            if (matches(new Date(ts))) return new Date(ts)
          }
        }
      }
    }
    return undefined
  }
  return {
    expression,
    timezone,
    matches,
    previous: (date) => search(date, -1),
    next: (date) => search(date, 1),
  }
}

interface LocalParts {
  year: number
  month: number
  day: number
  hour: number
  minute: number
  second: number
}

function partsFormatter(timezone: string): Intl.DateTimeFormat {
  return new Intl.DateTimeFormat('en-US', {
    timeZone: timezone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  })
}

function readParts(formatter: Intl.DateTimeFormat, date: Date): LocalParts {
  const out: Record<string, number> = {}
  for (const part of formatter.formatToParts(date)) if (part.type !== 'literal') out[part.type] = Number(part.value)
  return { year: out.year!, month: out.month!, day: out.day!, hour: out.hour! % 24, minute: out.minute!, second: out.second! }
}

function offsetMs(formatter: Intl.DateTimeFormat, ts: number): number {
  const p = readParts(formatter, new Date(ts))
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(ts / 1000) * 1000
}

/** The instant a local wall time names; like node-cron, an ambiguous time resolves to its later instant. */
function localToInstant(p: LocalParts, _timezone: string, formatter: Intl.DateTimeFormat): number {
  const guess = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second)
  const first = guess - offsetMs(formatter, guess)
  const second = guess - offsetMs(formatter, first)
  if (first === second) return first
  const readsBack = (ts: number): boolean => {
    const q = readParts(formatter, new Date(ts))
    return q.year === p.year && q.month === p.month && q.day === p.day && q.hour === p.hour && q.minute === p.minute && q.second === p.second
  }
  const hits = [first, second].filter(readsBack)
  return hits.length > 0 ? Math.max(...hits) : Math.max(first, second)
}

const weekdayTokens = /^([0-7])(L|#[1-5])$/i

function dayMatches(fields: Fields, year: number, month: number, day: number): boolean {
  const last = new Date(Date.UTC(year, month, 0)).getUTCDate()
  const weekday = new Date(Date.UTC(year, month - 1, day)).getUTCDay()
  const nearestWeekday = (target: number): number => {
    if (target < 1 || target > last) return -1
    const wd = new Date(Date.UTC(year, month - 1, target)).getUTCDay()
    if (wd === 6) return target === 1 ? target + 2 : target - 1
    if (wd === 0) return target === last ? target - 2 : target + 1
    return target
  }
  const domOk = fields.dayOfMonth.some((v) => {
    if (v === day) return true
    if (typeof v !== 'string') return false
    if (v === 'L') return day === last
    const w = /^(\d{1,2}|L)W$/.exec(v)
    if (w) return nearestWeekday(w[1] === 'L' ? last : Number(w[1])) === day
    const off = /^L-(\d{1,2})$/.exec(v)
    if (off) return last - Number(off[1]) === day
    return false
  })
  if (!domOk) return false
  return fields.dayOfWeek.some((v) => {
    if (v === weekday || v === 7 && weekday === 0) return true
    if (typeof v !== 'string') return false
    const m = weekdayTokens.exec(v)
    if (!m || Number(m[1]) % 7 !== weekday) return false
    if (m[2]!.toUpperCase() === 'L') return day + 7 > last
    return Math.floor((day - 1) / 7) + 1 === Number(m[2]!.slice(1))
  })
}
