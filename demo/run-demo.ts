import { createWriteStream, existsSync } from 'node:fs'
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { stringify } from 'yaml'
import { startPipeline, type RunningPipeline } from '../cli/start-pipeline.ts'
import { CloseStack } from '../core/close-stack.ts'
import { ColdpipeError } from '../core/errors.ts'
import { createLogger, silentLogger, type Logger } from '../core/logger.ts'
import { startDevBroker, type DevBroker } from '../dev-broker/index.ts'
import { CommitLog } from '../lake/index.ts'
import { demoConfig, demoOrderChangesTable } from './demo-config.ts'
import { startShopDatabases, type ShopDatabases, type ShopService } from './shop/index.ts'
import { startShopSimulator, type ShopSimulator } from './simulator/index.ts'

export interface RunDemoOptions {
  /** Lake, warehouse and the effective config go here (default ./data/demo). */
  dataDir?: string
  port: number
  host?: string
  /** Where logs go; without one they go to `<dataDir>/coldpipe.log` (a person watches the progress lines). */
  logger?: Logger
  /** Simulated shop activity per second on the change topics; 0 turns the simulator off. */
  rateEventsPerSecond?: number
  /** Progress lines for a person watching (default: none). */
  say?: (line: string) => void
}

export interface RunningDemo {
  url: string
  dataDir: string
  /** The effective configuration file, for `coldpipe -c <file> sql` and friends while the demo runs. */
  configFile: string
  pipeline: RunningPipeline
  shop: ShopDatabases
  broker: DevBroker
  simulator?: ShopSimulator
  close(): Promise<void>
}

const marker = '.coldpipe-demo'
const firstChangesTimeoutMs = 30_000

/** Polls the lake's commit log until a file of `service.table` is committed, or the time is up. */
async function landedChanges(lakeRoot: string, service: string, table: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  const log = await CommitLog.open(lakeRoot)
  for (;;) {
    await log.refresh()
    if ([...log.activeFiles().values()].some((f) => f.service === service && f.table === table)) return true
    if (Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}
const services: ShopService[] = ['catalog', 'ordering', 'identity']

/** The demo starts from nothing each time; a folder that is not a demo's is never wiped. */
async function prepareDataDir(dataDir: string): Promise<void> {
  if (existsSync(dataDir)) {
    const entries = await readdir(dataDir)
    if (entries.length > 0 && !entries.includes(marker)) {
      throw new ColdpipeError('DEMO_FAILED', `--data-dir ${dataDir} is not empty and was not made by the demo; choose another folder`, {
        context: { path: dataDir },
      })
    }
    await rm(dataDir, { recursive: true, force: true })
  }
  await mkdir(dataDir, { recursive: true })
  await writeFile(join(dataDir, marker), 'made by `coldpipe demo`; removed and rebuilt at each start\n')
}

/**
 * The embedded demo end to end: shop databases (PGlite over the Postgres protocol), the dev Kafka broker,
 * the pipeline (scheduler, change ingest, reports API), a first export of every table, a first snapshot,
 * then simulated shop activity flowing through CDC into later snapshots.
 */
export async function runDemo(options: RunDemoOptions): Promise<RunningDemo> {
  const say = options.say ?? (() => undefined)
  const dataDir = resolve(options.dataDir ?? 'data/demo')
  let logger: Logger = options.logger ?? silentLogger
  const host = options.host ?? '127.0.0.1'
  const closers = new CloseStack((_error, message) => logger.error({ err: message }, 'error while stopping the demo'))
  const closeAll = () => closers.closeAll()
  try {
    await prepareDataDir(dataDir)
    if (!options.logger) {
      const logFile = join(dataDir, 'coldpipe.log')
      const stream = createWriteStream(logFile, { flags: 'a' })
      closers.push(() => new Promise<void>((done) => stream.end(done)))
      logger = createLogger({ destination: stream })
      say(`logs: ${logFile}`)
    }
    say(`starting the shop's databases (catalog, ordering, identity on embedded Postgres)…`)
    const shop = await startShopDatabases({ logger })
    closers.push(() => shop.close())
    const broker = await startDevBroker({ host: '127.0.0.1', port: 0, defaultPartitions: 3, logger: logger.child({ component: 'dev-broker' }) })
    closers.push(() => broker.close())
    say(`dev Kafka broker on ${broker.bootstrap}`)

    const input = { dataDir, urls: shop.urls, brokers: [broker.bootstrap], port: options.port, host }
    const { config, document } = demoConfig(input)
    const configFile = join(dataDir, 'coldpipe.yaml')
    await writeFile(configFile, `# effective configuration of the running demo (ports change at every start)\n${stringify(document)}`)

    // Cron timers start after the first exports and snapshot, so no scheduled publish races the set-up.
    const pipeline = await startPipeline({ config, logger, reportsDir: config.reports!, port: options.port, host, schedule: false })
    closers.push(() => pipeline.close())
    for (const service of services) {
      const started = Date.now()
      const run = await pipeline.scheduler.runNow(`export:${service}`)
      if (run.status !== 'succeeded') {
        throw new ColdpipeError('DEMO_FAILED', `the first export of ${service} failed: ${run.error?.code ?? ''} ${run.error?.message ?? ''}`, { context: { service, runId: run.runId } })
      }
      say(`exported ${service}: ${run.rows ?? 0} rows in ${((Date.now() - started) / 1000).toFixed(1)} s`)
    }
    let simulator: ShopSimulator | undefined
    const rate = options.rateEventsPerSecond ?? 20
    if (rate > 0) {
      simulator = await startShopSimulator({ brokers: [broker.bootstrap], rateEventsPerSecond: rate, seed: 42, logger })
      const running = simulator
      // Stops before the pipeline (registered later, closed first), so ingest drains what was sent.
      closers.push(() => running.stop())
      say(`shop simulator: ${rate} change events/s into Kafka`)
      // The first snapshot waits for the first landed order changes, so the report built from change
      // history has something to show from the start.
      if (await landedChanges(config.lake, demoOrderChangesTable.service, demoOrderChangesTable.table, firstChangesTimeoutMs)) say('first simulated order changes landed in the lake')
      else say(`no order changes landed within ${firstChangesTimeoutMs / 1000} s; publishing without them (see the log)`)
    }
    const published = await pipeline.scheduler.runNow('publish')
    if (published.status !== 'succeeded') {
      throw new ColdpipeError('DEMO_FAILED', `the first publish failed: ${published.error?.code ?? ''} ${published.error?.message ?? ''}`, { context: { runId: published.runId } })
    }
    say(`published the first warehouse snapshot (${join(dataDir, 'warehouse', 'current.duckdb')}); a new one every minute`)
    pipeline.scheduler.startSchedules()
    return { url: pipeline.url, dataDir, configFile, pipeline, shop, broker, ...(simulator ? { simulator } : {}), close: closeAll }
  } catch (error) {
    await closeAll()
    throw error
  }
}
