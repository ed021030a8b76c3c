import type { ColdpipeConfig } from './config/index.ts'
import type { Logger } from '../core/logger.ts'
import { createExporter, SourceGuard } from '../ingest/export/index.ts'
import { applyRetention, compact, publish, summarizeCompaction, summarizeRetention } from '../warehouse/index.ts'
import { exportStage } from './export-stage.ts'
import { reconcilePrecompute, withQuarantineWarnings } from './publish-stage.ts'
import { reconcileStage, type JobStageDeps } from './build-jobs.ts'

/** Builds the stage functions jobs call, registering whatever it opens with `onShutdown`. */
export type StageDepsLoader = (
  config: ColdpipeConfig,
  logger: Logger,
  onShutdown: (close: () => Promise<void> | void) => void,
) => Promise<JobStageDeps>

/**
 * The real stages `coldpipe start` and `coldpipe jobs run` call: the exporter (one per process, one
 * breaker per source, state recorded in the lake for `coldpipe status`) and the warehouse stages.
 */
export const loadStageDeps: StageDepsLoader = async (config, logger, onShutdown) => {
  const guard = new SourceGuard({ sources: config.sources, logger, lakeRoot: config.lake })
  const exporter = createExporter({ sources: config.sources, exports: config.exports, lakeRoot: config.lake, logger, guard })
  const precompute = reconcilePrecompute(config, logger)
  onShutdown(async () => {
    await precompute?.close()
    await exporter.close()
    await guard.close()
  })
  const reconcile = reconcileStage(config)
  return {
    sourceHealth: guard,
    runExport: exportStage(exporter),
    publish: async (call) => {
      const result = await publish({ lakeRoot: config.lake, warehouse: config.warehouse, models: config.models, logger: call.logger })
      precompute?.afterPublish(result)
      return withQuarantineWarnings(result)
    },
    // A reconciliation right after a publish would otherwise compute the warehouse side the precompute is computing.
    ...(precompute
      ? {
          reconcile: async (call: Parameters<typeof reconcile>[0]) => {
            await precompute.idle()
            return reconcile(call)
          },
        }
      : {}),
    // Run records keep counts, not file lists, so they do not grow with the lake.
    compact: async (call) => summarizeCompaction(await compact({ lakeRoot: config.lake, logger: call.logger, runId: call.runId, ...(config.warehouse.maintenance ? { config: config.warehouse.maintenance.compaction } : {}) })),
    applyRetention: async (call) => summarizeRetention(await applyRetention({ lakeRoot: config.lake, warehouse: config.warehouse, logger: call.logger, ...(config.warehouse.maintenance ? { config: config.warehouse.maintenance.retention } : {}) })),
  }
}
