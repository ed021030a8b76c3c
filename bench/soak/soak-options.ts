import { parseArgs } from 'node:util'

export interface SoakOptions {
  /** Simulated days. */
  days: number
  /** Wall time one simulated hour gets; work that takes longer makes the run fall behind, never skip. */
  hourMs: number
  /** Log opens and status builds per hourly sample; the day's median is shown. */
  runs: number
  /** Small-change publishes per day (each an export and a publish, so they cost the simulated day's time). */
  publishRuns: number
  /** Change events produced per simulated hour (CDC envelopes and integration events together). */
  eventsPerHour: number
  /** Rows of the incremental table at the start, and rows it gains per simulated hour. */
  accountRows: number
  accountInsertsPerHour: number
  /** Rows updated per simulated hour in each exported table. */
  updatesPerHour: number
  /** Rows of the full-mode table. */
  productRows: number
  /** The first day the final ratios compare against (the "day 3"). */
  baseDay: number
  /** Keep the lake, warehouse and Postgres schema afterwards for inspection. */
  keep: boolean
  /** pino JSON logs of the whole run (stdout carries results only). */
  logFile: string
  postgresUrl: string
}

export const soakDefaults: SoakOptions = {
  days: 30,
  hourMs: 800,
  runs: 1,
  publishRuns: 3,
  eventsPerHour: 150,
  accountRows: 5_000,
  accountInsertsPerHour: 20,
  updatesPerHour: 100,
  productRows: 2_000,
  baseDay: 3,
  keep: false,
  logFile: 'bench/results/soak.log',
  postgresUrl: process.env.COLDPIPE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
}

const usage = `node --import tsx bench/soak/soak-bench.ts [--days 30] [--hour-ms 800] [--runs 1]
  [--publish-runs 3] [--events-per-hour 150] [--updates-per-hour 100] [--base-day 3] [--keep] [--log bench/results/soak.log]`

function positive(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer, got "${raw}"\n${usage}`)
  return value
}

export function parseSoakOptions(argv: string[]): SoakOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      days: { type: 'string' },
      'hour-ms': { type: 'string' },
      runs: { type: 'string' },
      'publish-runs': { type: 'string' },
      'events-per-hour': { type: 'string' },
      'updates-per-hour': { type: 'string' },
      'base-day': { type: 'string' },
      keep: { type: 'boolean' },
      log: { type: 'string' },
      help: { type: 'boolean' },
    },
  })
  if (values.help) {
    process.stdout.write(`${usage}\n`)
    process.exit(0)
  }
  const days = positive('days', values.days, soakDefaults.days)
  return {
    ...soakDefaults,
    days,
    hourMs: positive('hour-ms', values['hour-ms'], soakDefaults.hourMs),
    runs: positive('runs', values.runs, soakDefaults.runs),
    publishRuns: positive('publish-runs', values['publish-runs'], soakDefaults.publishRuns),
    eventsPerHour: positive('events-per-hour', values['events-per-hour'], soakDefaults.eventsPerHour),
    updatesPerHour: positive('updates-per-hour', values['updates-per-hour'], soakDefaults.updatesPerHour),
    // A short trial (--days 2) compares against its first day rather than a day it never reaches.
    baseDay: Math.min(days, positive('base-day', values['base-day'], soakDefaults.baseDay)),
    keep: values.keep ?? false,
    logFile: values.log ?? soakDefaults.logFile,
  }
}
