import cron from 'node-cron'
import type { ConfigProblem } from './load-config.ts'

/** Why a cron expression cannot run (node-cron syntax, 5 or 6 fields), or undefined when it can. */
export function cronProblem(expression: string): string | undefined {
  const checked = cron.validateDetailed(expression)
  if (checked.valid) return undefined
  const why = checked.errors.map((e) => `${e.field}: ${e.message}`).join('; ')
  return `cron expression "${expression}" is not valid: ${why} (5 or 6 fields, e.g. "0 2 * * *" for 02:00 every day)`
}

/**
 * The runtime's canonical zone names plus UTC (which the list leaves out), read once: 1-2 ms, where the first
 * `Intl.DateTimeFormat` with a time zone costs 15-30 ms of every command's start-up to set up ICU's formatter.
 * Names not in the list (aliases such as "US/Eastern", mistakes) still get Intl's own answer.
 */
let canonicalZones: Set<string> | undefined

/** Why a time zone is unknown to this runtime (Intl), or undefined when it is known. */
export function timezoneProblem(timezone: string): string | undefined {
  canonicalZones ??= new Set([...Intl.supportedValuesOf('timeZone'), 'UTC'])
  if (canonicalZones.has(timezone)) return undefined
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone })
    return undefined
  } catch {
    return `timezone "${timezone}" is not an IANA time zone (e.g. "UTC", "Europe/Berlin", "America/New_York")`
  }
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : [])

/**
 * Every schedule and time zone of a config document (the export's, each table's own, and the publish,
 * compaction and retention jobs'). Reads the document defensively, so these problems are listed together
 * with schema errors instead of one stage and one run at a time.
 */
export function scheduleProblems(doc: unknown): ConfigProblem[] {
  if (!isObject(doc)) return []
  const problems: ConfigProblem[] = []
  const check = (path: string, schedule: unknown, timezonePath: string, timezone: unknown): void => {
    const badCron = typeof schedule === 'string' ? cronProblem(schedule) : undefined
    if (badCron) problems.push({ path, reason: badCron })
    const badZone = typeof timezone === 'string' ? timezoneProblem(timezone) : undefined
    if (badZone) problems.push({ path: timezonePath, reason: badZone })
  }
  list(doc.exports).forEach((exp, i) => {
    if (!isObject(exp)) return
    check(`exports[${i}].schedule`, exp.schedule, `exports[${i}].timezone`, exp.timezone)
    list(exp.tables).forEach((table, j) => {
      if (isObject(table)) check(`exports[${i}].tables[${j}].schedule`, table.schedule, `exports[${i}].tables[${j}].timezone`, table.timezone)
    })
  })
  const jobs = isObject(doc.jobs) ? doc.jobs : {}
  for (const kind of ['publish', 'compaction', 'retention']) {
    const job = jobs[kind]
    if (isObject(job)) check(`jobs.${kind}.schedule`, job.schedule, `jobs.${kind}.timezone`, job.timezone)
  }
  return problems
}
