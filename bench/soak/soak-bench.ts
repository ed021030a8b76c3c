/**
 * A simulated month of unattended operation in about ten minutes, in one long-running process as
 * `coldpipe start` runs: continuous CDC and integration events through the dev broker into change ingest
 * (default flush settings), hourly exports of a real Postgres schema (an incremental and a full-mode table,
 * rows changing between exports), publishes four times a simulated day, compaction and retention nightly,
 * all fired by the scheduler's jobs on a simulated clock (one simulated hour = --hour-ms of wall time).
 * Prints a row per simulated day and, at the end, the day-N/day-3 ratios with their targets, then checks
 * the snapshot against Postgres; exits 1 when a target is missed, a job run failed or the check fails.
 * Run: node --import tsx bench/soak/soak-bench.ts [--days 30] [--hour-ms 800] [--runs 3] (--help: all options)
 */
import { createWriteStream, mkdirSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { CloseStack } from '../../core/close-stack.ts'
import { createLogger, newRunId } from '../../core/logger.ts'
import { checkSoakResult } from './soak-check.ts'
import { HourlySampler, measureDay, type DayRow } from './soak-measure.ts'
import { parseSoakOptions } from './soak-options.ts'
import { SoakEvents } from './soak-events.ts'
import { SoakPipeline } from './soak-pipeline.ts'
import { SoakReport, verdict } from './soak-report.ts'
import { SoakSource } from './soak-source.ts'

const hourMs = 3_600_000
const options = parseSoakOptions(process.argv.slice(2))
mkdirSync(dirname(options.logFile), { recursive: true })
const logStream = createWriteStream(options.logFile)
const runId = newRunId('soak')
// Under `soak`, not `runId`: the jobs' own run ids go in `runId`.
const logger = createLogger({ destination: logStream }).child({ soak: runId })
const workDir = await mkdtemp(join(tmpdir(), 'coldpipe-soak-'))
// The simulated month ends today, so no simulated time lies in the future.
const today = new Date()
const simStart = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate()) - options.days * 24 * hourMs)

let stopping = false
process.once('SIGINT', () => {
  stopping = true
  process.stderr.write('\nstopping after the current hour (Ctrl-C again to abort)\n')
  process.once('SIGINT', () => process.exit(130))
})

const report = new SoakReport()
process.stderr.write(`soak ${runId}: ${options.days} simulated days, ${options.hourMs} ms per simulated hour; work dir ${workDir}; logs ${options.logFile}\n`)
logger.info({ options: { ...options, postgresUrl: undefined }, workDir, simStart }, 'soak started')
const closers = new CloseStack((_error, message) => process.stderr.write(`error while stopping the soak: ${message}\n`))
const rows: DayRow[] = []
let exitCode = 0
try {
  const source = await SoakSource.create({ url: options.postgresUrl, accountRows: options.accountRows, productRows: options.productRows }, simStart)
  closers.push(async () => {
    await source.close(!options.keep)
    if (options.keep) process.stderr.write(`kept ${workDir} and Postgres schema ${source.schema}\n`)
  })
  const events = await SoakEvents.start(logger)
  closers.push(() => events.close())
  const pipeline = await SoakPipeline.start({ workDir, postgresUrl: options.postgresUrl, schema: source.schema, bootstrap: events.bootstrap, hourMs: options.hourMs, logger })
  closers.push(() => pipeline.close())
  const sampler = new HourlySampler(pipeline, options.runs)
  closers.push(() => sampler.close())
  report.header()
  const started = performance.now()
  let failedRuns = 0
  for (let day = 1; day <= options.days && !stopping; day++) {
    const dayStarted = performance.now()
    for (let hour = 0; hour < 24 && !stopping; hour++) {
      const slot = (day - 1) * 24 + hour
      const from = new Date(simStart.getTime() + slot * hourMs)
      const to = new Date(from.getTime() + hourMs)
      await events.produceHour(from, options.eventsPerHour)
      await source.hour(from, options.updatesPerHour, options.accountInsertsPerHour)
      for (const job of pipeline.due(from, to)) {
        report.progress(`day ${day} ${String(hour).padStart(2, '0')}:00  ${job} …`)
        const run = await pipeline.run(job)
        if (run.status === 'failed') {
          failedRuns++
          process.stderr.write(`day ${day} ${String(hour).padStart(2, '0')}:00 job ${job} failed: ${run.error?.code} ${run.error?.message}\n`)
        }
      }
      await sampler.sample()
      report.progress(`day ${day} ${String(hour).padStart(2, '0')}:00  events ${events.produced} produced, ${pipeline.ingest.stats().rowsLanded} landed`)
      // Hold the simulated clock to wall time; work that overran its hour is not made up by skipping.
      const behindMs = started + (slot + 1) * options.hourMs - performance.now()
      if (behindMs > 0) await sleep(behindMs)
    }
    if (stopping) break
    report.progress(`day ${day} measuring …`)
    const row = await measureDay({
      day,
      sampler,
      publishRuns: options.publishRuns,
      pipeline,
      source,
      // In the day's last simulated minute: after 23:00's changes, before the next hour's (the cursor only moves forward).
      at: new Date(simStart.getTime() + day * 24 * hourMs - 60_000),
      wallSeconds: (performance.now() - dayStarted) / 1000,
      failedRuns,
    })
    rows.push(row)
    logger.info({ row, memory: process.memoryUsage(), ingest: pipeline.ingest.stats() }, 'soak day measured')
    report.row(row)
  }
  if (rows.length > 0) {
    const minutes = (performance.now() - started) / 60_000
    const result = verdict(rows, options.baseDay)
    for (const line of result.lines) report.line(line)
    report.progress('checking the snapshot against Postgres …')
    const check = await checkSoakResult({ pipeline, source, events, timeoutMs: 120_000 })
    report.line(`\n${rows.length} simulated days in ${minutes.toFixed(1)} min; ${failedRuns} failed job runs; targets ${result.met ? 'met' : 'NOT met'}`)
    report.line(check.line)
    if (!result.met || failedRuns > 0 || !check.ok) exitCode = 1
  } else {
    exitCode = 1
  }
} catch (error) {
  logger.error({ err: error }, 'soak failed')
  process.stderr.write(`soak failed: ${(error as Error).stack ?? String(error)}\n`)
  exitCode = 1
} finally {
  await closers.closeAll()
  if (!options.keep) await rm(workDir, { recursive: true, force: true })
  logStream.end()
}
process.exit(exitCode)
