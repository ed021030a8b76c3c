import type { ColdpipeConfig } from './config/index.ts'
import { CloseStack } from '../core/close-stack.ts'
import type { Logger } from '../core/logger.ts'
import { createMetricsRegistry } from '../core/metrics.ts'
import { startChangeIngest, type ChangeIngest } from '../ingest/index.ts'
import { buildJobsFromConfig, describeJobsFromConfig } from './build-jobs.ts'
import { collectStatus, createErasureAlerter, jobsApiPlugin, startScheduler, type Scheduler } from '../jobs/index.ts'
import { messageOf } from '../core/errors.ts'
import { piiDefaults } from '../ingest/pii/index.ts'
import { LakeLayout } from '../lake/index.ts'
import { startErasureAlerts } from '../lake/erasure/index.ts'
import { loadStageDeps, type StageDepsLoader } from './stage-deps.ts'
import { startServer, type RunningServer } from '../reports-api/index.ts'
import { SnapshotStore } from '../warehouse/index.ts'

export interface StartPipelineOptions {
  config: ColdpipeConfig
  logger: Logger
  /** Folder of report files (config `reports`, else `reports/` beside the config). */
  reportsDir: string
  port?: number
  host?: string
  /** Install the cron timers (default true). */
  schedule?: boolean
  /** Consume the configured change topics (default: when config has `changes`). */
  ingest?: boolean
  loadDeps?: StageDepsLoader
  /** Called when change ingest stops on an error it cannot get past. */
  onFatal?: (error: Error) => void
}

export interface RunningPipeline {
  url: string
  scheduler: Scheduler
  ingest?: ChangeIngest
  server: RunningServer
  /** Stops accepting requests, stops ingest (flush, commit, leave the group), then the scheduler. */
  close(): Promise<void>
}

/**
 * The composition root of a long-running coldpipe process: the scheduler with the real stages, change
 * ingest when configured, and the reports API with the jobs endpoints. Stages only meet through the
 * lake and the warehouse; this function only starts and stops them.
 */
export async function startPipeline(options: StartPipelineOptions): Promise<RunningPipeline> {
  const { config, logger } = options
  const metrics = createMetricsRegistry()
  const closers = new CloseStack((_error, message) => logger.error({ err: message }, 'error while stopping the pipeline'))
  const closeAll = () => closers.closeAll()
  try {
    const deps = await (options.loadDeps ?? loadStageDeps)(config, logger, (close) => closers.push(close))
    const scheduler = await startScheduler({
      jobs: buildJobsFromConfig(config, deps),
      lakeRoot: config.lake,
      config: config.jobs,
      logger,
      metrics,
      schedule: options.schedule ?? true,
    })
    closers.push(() => scheduler.close())
    if (config.pii) {
      // Erasure deadlines (GDPR art. 17) alert through the jobs' webhook when they become due or overdue.
      const erasureAlerts = startErasureAlerts({
        layout: new LakeLayout(config.lake),
        warnDays: config.pii.erasureWarnDays,
        checkIntervalMs: config.pii.erasureCheckIntervalMs ?? piiDefaults.erasureCheckIntervalMs,
        alert: createErasureAlerter({ logger, webhookUrl: config.jobs.alertWebhookUrl, timeoutMs: config.jobs.alertTimeoutMs ?? 5000 }),
        onError: (error) => logger.warn({ err: messageOf(error) }, `could not check erasure deadlines: ${messageOf(error)}`),
      })
      closers.push(() => erasureAlerts.close())
    }
    let ingest: ChangeIngest | undefined
    if (config.changes && (options.ingest ?? true)) {
      ingest = await startChangeIngest({
        config: config.changes,
        lakeRoot: config.lake,
        logger,
        metrics,
        ...(options.onFatal ? { onFatal: options.onFatal } : {}),
      })
      const running = ingest
      closers.push(() => running.stop())
    }
    const status = () =>
      collectStatus({
        lakeRoot: config.lake,
        warehousePath: config.warehouse.path,
        jobs: describeJobsFromConfig(config),
        sources: Object.keys(config.sources),
        ...(config.pii ? { erasureWarnDays: config.pii.erasureWarnDays } : {}),
        ...(deps.sourceHealth ? { health: deps.sourceHealth } : {}),
      })
    const server = await startServer({
      snapshots: new SnapshotStore(config.warehouse.path),
      reportsDir: options.reportsDir,
      config: config.api,
      logger,
      metrics,
      jobs: jobsApiPlugin({ scheduler, status }),
      port: options.port ?? config.api.port,
      host: options.host ?? config.api.host,
    })
    closers.push(() => server.close())
    return { url: server.url, scheduler, ...(ingest ? { ingest } : {}), server, close: closeAll }
  } catch (error) {
    await closeAll()
    throw error
  }
}
