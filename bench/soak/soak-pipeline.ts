import { CloseStack } from '../../core/close-stack.ts'
import { parseConfig, type ColdpipeConfig } from '../../cli/config/index.ts'
import type { Logger } from '../../core/logger.ts'
import { startChangeIngest, type ChangeIngest } from '../../ingest/index.ts'
import { buildJobsFromConfig } from '../../cli/build-jobs.ts'
import { loadStageDeps } from '../../cli/stage-deps.ts'
import { parseCronSchedule, startScheduler, type CronSchedule, type RunOptions, type RunRecord, type Scheduler } from '../../jobs/index.ts'
import { soakChangeTopics } from './soak-events.ts'
import { commitLogDefaults, updateLakeSettings } from '../../lake/index.ts'
import { applyRetention, maintenanceDefaults } from '../../warehouse/index.ts'

export interface SoakPipelineOptions {
  workDir: string
  postgresUrl: string
  schema: string
  bootstrap: string
  hourMs: number
  logger: Logger
}

/** The jobs' schedules, read on the simulated clock: exports hourly, publishes four times a day, maintenance nightly. */
const schedules = { export: '0 * * * *', publish: '15 */6 * * *', compaction: '30 2 * * *', retention: '45 2 * * *' }

/**
 * One long-running coldpipe, wired as `coldpipe start` wires it (cli/start-pipeline.ts): the real stage
 * functions behind the scheduler's jobs, and change ingest at default flush settings, all in this process.
 * Only the cron timers are replaced: the soak fires each job when the simulated clock passes its slot.
 */
export class SoakPipeline {
  private constructor(
    readonly config: ColdpipeConfig,
    readonly scheduler: Scheduler,
    readonly ingest: ChangeIngest,
    readonly logger: Logger,
    private readonly closers: CloseStack,
    private readonly crons: Map<string, CronSchedule>,
  ) {}

  static async start(options: SoakPipelineOptions): Promise<SoakPipeline> {
    const { logger } = options
    const config = parseConfig(
      {
        lake: 'lake',
        warehouse: { path: 'warehouse' },
        sources: { crm: { kind: 'postgres', url: options.postgresUrl, schema: options.schema } },
        exports: [
          {
            source: 'crm',
            schedule: schedules.export,
            tables: [
              { name: 'accounts', mode: 'incremental', cursor: 'updated_at', key: ['id'] },
              { name: 'products', mode: 'full', key: ['id'] },
            ],
          },
        ],
        changes: { brokers: [options.bootstrap], groupId: 'coldpipe-soak', topics: soakChangeTopics },
        jobs: {
          catchUpOnStart: false,
          publish: { schedule: schedules.publish },
          compaction: { schedule: schedules.compaction },
          retention: { schedule: schedules.retention },
        },
      },
      { origin: 'bench/soak', baseDir: options.workDir },
    )
    const closers = new CloseStack((_error, message) => logger.error({ err: message }, 'error while stopping the soak pipeline'))
    try {
      // Retention and the commit log compare commit times and file mtimes, which are wall time, with their
      // periods: those are scaled to the simulated clock. Retention's grace (1 h by default) becomes one
      // simulated hour (at least 5 s, longer than any landing between rename and commit); the lake's own
      // settings (_lake.json, which every process opening the lake reads), tombstones kept 24 h and commits
      // younger than 7 days, become 24 and 7 simulated days. Count-based bounds stay as in production.
      const simulatedMs = (ms: number): number => Math.round((ms / 3_600_000) * options.hourMs)
      const orphanGraceMs = Math.max(simulatedMs(3_600_000), 5_000)
      await updateLakeSettings(config.lake, {
        set: { keepTombstonesForMs: Math.max(simulatedMs(commitLogDefaults.keepTombstonesForMs), orphanGraceMs), expireOlderThanMs: simulatedMs(commitLogDefaults.expireOlderThanMs) },
      })
      const deps = await loadStageDeps(config, logger, (close) => closers.push(close))
      // Day-based ages (export run records, dead letters) likewise: N days become N simulated days.
      const simulatedDays = (days: number): number => simulatedMs(days * 24 * 3_600_000) / (24 * 3_600_000)
      const retention = maintenanceDefaults.retention
      const retentionConfig = { deadLetterKeepDays: simulatedDays(retention.deadLetterKeepDays), runRecordKeepDays: simulatedDays(retention.runRecordKeepDays) }
      deps.applyRetention = (call) => applyRetention({ lakeRoot: config.lake, warehouse: config.warehouse, logger: call.logger, orphanGraceMs, config: retentionConfig })
      const scheduler = await startScheduler({ jobs: buildJobsFromConfig(config, deps), lakeRoot: config.lake, config: config.jobs, logger, schedule: false })
      closers.push(() => scheduler.close())
      const ingest = await startChangeIngest({ config: config.changes!, lakeRoot: config.lake, logger })
      closers.push(() => ingest.stop())
      const crons = new Map<string, CronSchedule>()
      for (const job of await scheduler.list()) {
        if (job.schedule) crons.set(job.id, parseCronSchedule(job.schedule.cron, job.schedule.timezone))
      }
      return new SoakPipeline(config, scheduler, ingest, logger, closers, crons)
    } catch (error) {
      await closers.closeAll()
      throw error
    }
  }

  get lakeRoot(): string {
    return this.config.lake
  }

  get warehousePath(): string {
    return this.config.warehouse.path
  }

  /** Jobs whose schedule slots fall in [from, to), in slot order (a job fires once however many slots it has). */
  due(from: Date, to: Date): string[] {
    const slots: { id: string; at: number }[] = []
    for (const [id, cron] of this.crons) {
      const at = cron.next(new Date(from.getTime() - 1))
      if (at && at.getTime() < to.getTime()) slots.push({ id, at: at.getTime() })
    }
    return slots.sort((a, b) => a.at - b.at).map((s) => s.id)
  }

  run(jobId: string, options?: RunOptions): Promise<RunRecord> {
    return this.scheduler.runNow(jobId, options)
  }

  close(): Promise<void> {
    return this.closers.closeAll()
  }
}
