import type { ColdpipeConfig } from '../core/config/index.ts'
import { ColdpipeError, errorDefinitions, type ErrorCode } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import { createExporter, SourceGuard, type Exporter, type ExportRunRecord } from '../ingest/export/index.ts'
import { applyRetention, compact, publish, summarizeCompaction, summarizeRetention, type PublishResult } from '../warehouse/index.ts'
import type { JobStageDeps } from './build-jobs.ts'
import type { RunWarning } from './job-types.ts'

/** Builds the stage functions jobs call, registering whatever it opens with `onShutdown`. */
export type StageDepsLoader = (
  config: ColdpipeConfig,
  logger: Logger,
  onShutdown: (close: () => Promise<void> | void) => void,
) => Promise<JobStageDeps>

/**
 * An export run reports failed tables in its records rather than throwing (the other tables still commit);
 * for a job, any failed table fails the run, so the runner retries it and alerts. The error keeps the
 * first failure's code, so an open breaker is not retried while a dropped connection is.
 */
export function failOnFailedTables(source: string, records: ExportRunRecord[]): ExportRunRecord[] {
  const failed = records.filter((r) => r.status === 'failed')
  if (failed.length === 0) return records
  const first = failed[0]!.error
  const code = (first?.code && first.code in errorDefinitions ? first.code : 'EXPORT_FAILED') as ErrorCode
  const names = failed.map((r) => `${r.table}${r.error ? ` (${r.error.code}: ${r.error.message})` : ''}`).join('; ')
  throw new ColdpipeError(code, `export of ${source}: ${failed.length} of ${records.length} tables failed: ${names}`, {
    context: { source, failed: failed.map((r) => r.table), committed: records.filter((r) => r.status !== 'failed').map((r) => r.table) },
  })
}

/**
 * A publish that quarantined a lake file succeeded (the other tables are current), but the table it
 * belongs to is stale until someone re-lands it: each quarantined file becomes a warning, which alerts.
 */
export function withQuarantineWarnings(result: PublishResult): PublishResult & { warnings?: RunWarning[] } {
  const quarantined = result.published ? ((result.manifest.info?.quarantined ?? []) as { path: string; table: string; reason: string }[]) : []
  if (quarantined.length === 0) return result
  return {
    ...result,
    warnings: quarantined.map((q) => ({
      code: 'LAKE_FILE_CORRUPT',
      message: `lake file ${q.path} of table ${q.table} was unreadable and quarantined; the table keeps its previous state until it is re-landed (${q.reason})`,
      context: { path: q.path, table: q.table },
    })),
  }
}

/**
 * The export stage over an exporter: job options to runExport's, a half cursor range refused, and any failed
 * table failing the run. `onRecords` sees each attempt's records (the CLI prints the last as its summary).
 */
export function exportStage(exporter: Exporter, onRecords?: (records: ExportRunRecord[]) => void): NonNullable<JobStageDeps['runExport']> {
  return async (source, options) => {
    const range = options.cursorRange
    if (range && (range.from === undefined || range.to === undefined)) {
      throw new ColdpipeError('JOB_OPTIONS_INVALID', 'a backfill needs both ends of the cursor range (from and to)', {
        context: { field: range.from === undefined ? 'cursorRange.from' : 'cursorRange.to' },
      })
    }
    const records = await exporter.runExport(source, {
      runId: options.runId,
      logger: options.logger,
      signal: options.signal,
      ...(options.full ? { full: true } : {}),
      ...(options.tables ? { tables: options.tables } : {}),
      ...(range ? { cursorRange: { from: range.from!, to: range.to! } } : {}),
    })
    onRecords?.(records)
    return failOnFailedTables(source, records)
  }
}

/**
 * The real stages `coldpipe start` and `coldpipe jobs run` call: the exporter (one per process, one
 * breaker per source, state recorded in the lake for `coldpipe status`) and the warehouse stages.
 */
export const loadStageDeps: StageDepsLoader = async (config, logger, onShutdown) => {
  const guard = new SourceGuard({ sources: config.sources, logger, lakeRoot: config.lake })
  const exporter = createExporter({ sources: config.sources, exports: config.exports, lakeRoot: config.lake, logger, guard })
  onShutdown(async () => {
    await exporter.close()
    await guard.close()
  })
  return {
    sourceHealth: guard,
    runExport: exportStage(exporter),
    publish: async (call) => withQuarantineWarnings(await publish({ lakeRoot: config.lake, warehouse: config.warehouse, models: config.models, logger: call.logger })),
    // Run records keep counts, not file lists, so they do not grow with the lake.
    compact: async (call) => summarizeCompaction(await compact({ lakeRoot: config.lake, logger: call.logger, runId: call.runId, ...(config.warehouse.maintenance ? { config: config.warehouse.maintenance.compaction } : {}) })),
    applyRetention: async (call) => summarizeRetention(await applyRetention({ lakeRoot: config.lake, warehouse: config.warehouse, logger: call.logger, ...(config.warehouse.maintenance ? { config: config.warehouse.maintenance.retention } : {}) })),
  }
}
