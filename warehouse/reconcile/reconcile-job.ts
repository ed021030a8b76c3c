import { ColdpipeError } from '../../core/errors.ts'
import type { Logger } from '../../core/logger.ts'
import type { ExportConfig, SourceConfig } from '../../ingest/export/export-config.ts'
import type { WarehouseConfig } from '../warehouse-config.ts'
import type { ReconcileConfig } from './reconcile-config.ts'
import type { ReconcileTableResult } from './reconcile-result.ts'
import { reconcile } from './reconcile-run.ts'

/** The parts of coldpipe's config a reconcile run reads. */
export interface ReconcileJobConfig {
  lake: string
  warehouse: WarehouseConfig
  sources: Record<string, SourceConfig>
  exports: ExportConfig[]
  jobs: { reconcile?: Partial<ReconcileConfig> }
}

export interface ReconcileJobCall {
  runId: string
  signal: AbortSignal
  logger: Logger
}

/**
 * One run of the `reconcile` job: every table (or `only`), results saved, a `RECONCILE_MISMATCH` warning per
 * table that differs (the job's `job.warning` alert names it and its first differing keys). Tables that could not
 * be compared fail the run once all were tried.
 */
export async function reconcileJobResult(config: ReconcileJobConfig, call: ReconcileJobCall, only?: { source: string; table?: string }, onResults?: (results: ReconcileTableResult[]) => void) {
  const run = await reconcile({
    sources: config.sources,
    exports: config.exports,
    warehouse: config.warehouse,
    ...(config.jobs.reconcile ? { reconcile: config.jobs.reconcile } : {}),
    ...(only ? { only } : {}),
    runId: call.runId,
    logger: call.logger,
    signal: call.signal,
    lakeRoot: config.lake,
  })
  onResults?.(run.results)
  const count = (status: ReconcileTableResult['status']): number => run.results.filter((r) => r.status === status).length
  const failed = run.results.filter((r) => r.status === 'error')
  if (failed.length > 0) {
    throw new ColdpipeError('RECONCILE_FAILED', `reconciliation could not compare ${failed.map((r) => `${r.source}.${r.table} (${r.error?.code}: ${r.error?.message})`).join('; ')}`, {
      context: { tables: failed.map((r) => `${r.source}.${r.table}`), snapshot: run.snapshot, mismatched: run.warnings.map((w) => w.context.table) },
    })
  }
  return {
    rows: run.results.reduce((n, r) => n + r.counts.comparedRows, 0),
    snapshot: run.snapshot,
    tables: run.results.length,
    matched: count('match'),
    mismatched: count('mismatch'),
    skipped: count('skipped'),
    warnings: run.warnings,
  }
}
