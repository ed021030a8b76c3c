import type { ColdpipeConfig } from './config/index.ts'
import type { Logger } from '../core/logger.ts'
import type { RunWarning } from '../jobs/job-types.ts'
import type { PublishResult } from '../warehouse/index.ts'
import type { PrecomputeRunner } from '../warehouse/reconcile/precompute-runner.ts'

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

/** The publish stage's post-step: the warehouse side of the next reconciliation, computed in the background. */
export interface ReconcilePrecompute {
  /** After a publish (returns at once; the snapshot is already visible): starts or queues a precompute. */
  afterPublish(result: PublishResult): void
  /** Resolves when no precompute is in flight. */
  idle(): Promise<void>
  /** Interrupts a running precompute and waits for it (shutdown). */
  close(): Promise<void>
}

/**
 * Undefined unless reconciliation is configured (`jobs.reconcile`) and `jobs.reconcile.precompute` is on: a
 * user who never reconciles does not pay for the warehouse side after every publish. The runner (and DuckDB) is
 * loaded on the first publish, not at start-up.
 */
export function reconcilePrecompute(config: ColdpipeConfig, logger: Logger): ReconcilePrecompute | undefined {
  const settings = config.jobs.reconcile
  if (!settings || settings.precompute === false) return undefined
  let runner: Promise<PrecomputeRunner> | undefined
  let closed = false
  const load = (): Promise<PrecomputeRunner> =>
    (runner ??= import('../warehouse/reconcile/precompute-runner.ts').then(({ PrecomputeRunner }) =>
      new PrecomputeRunner({ sources: config.sources, exports: config.exports, warehouse: config.warehouse, reconcile: settings, lakeRoot: config.lake, logger })))
  return {
    afterPublish(result) {
      if (!result.published || closed) return
      load().then((r) => r.trigger(), (error: unknown) => logger.warn({ err: error }, 'reconcile precompute could not start'))
    },
    async idle() {
      if (runner) await (await runner).idle()
    },
    async close() {
      closed = true
      if (runner) await (await runner).close()
    },
  }
}
