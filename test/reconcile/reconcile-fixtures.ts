import { join } from 'node:path'
import { pino } from 'pino'
import { onTestFinished } from 'vitest'
import { createExporter, type ExportConfig, type SourceConfig } from '../../ingest/export/index.ts'
import { sourceDefaults } from '../../ingest/export/export-config.ts'
import { publish } from '../../warehouse/index.ts'
import { warehouseDefaults, type WarehouseConfig } from '../../warehouse/warehouse-config.ts'
import { reconcile, type ReconcileConfig, type ReconcileRun } from '../../warehouse/reconcile/index.ts'
import { tempDir } from '../helpers/temp-dir.ts'

/** A source config with the defaults the config loader fills in. */
export function sourceConfig(kind: 'postgres' | 'mysql', url: string, schema?: string): SourceConfig {
  return { ...sourceDefaults, kind, url, ...(schema ? { schema } : {}), retryMaxAttempts: 1, retryInitialDelayMs: 50 }
}

export interface Pipeline {
  lakeRoot: string
  warehouse: WarehouseConfig
  sources: Record<string, SourceConfig>
  exports: ExportConfig[]
  /** Exports every configured table through the real exporter, then publishes a snapshot. */
  load(): Promise<void>
  reconcile(extra?: Partial<ReconcileConfig>, only?: { source: string; table?: string }): Promise<ReconcileRun>
}

/** A lake and warehouse of the test's own over real sources: state built by the real export and publish path. */
export async function pipeline(sources: Record<string, SourceConfig>, exports: ExportConfig[], options: { warehouseDir?: string } = {}): Promise<Pipeline> {
  const dir = await tempDir('coldpipe-reconcile-')
  const lakeRoot = join(dir, 'lake')
  const warehouse: WarehouseConfig = { ...warehouseDefaults, path: options.warehouseDir ?? join(dir, 'wh'), pii: [], softDeletes: false }
  const exporter = createExporter({ sources, exports, lakeRoot })
  onTestFinished(() => exporter.close())
  let runs = 0
  return {
    lakeRoot, warehouse, sources, exports,
    async load() {
      for (const exp of exports) {
        const records = await exporter.runExport(exp, { runId: `r${++runs}` })
        const failed = records.filter((r) => r.status === 'failed')
        if (failed.length) throw new Error(`export failed: ${JSON.stringify(failed.map((f) => f.error))}`)
      }
      await publish({ lakeRoot, warehouse, force: true })
    },
    reconcile: (extra = {}, only) => reconcile({ sources, exports, warehouse, reconcile: { lagSeconds: 0, maxReportedKeys: 50, ...extra }, ...(only ? { only } : {}), lakeRoot }),
  }
}

/** Reconciles the pipeline's tables, returning the first result and the warehouse segments carried forward (kept) and computed. */
export async function reconcileCountingSegments(p: Pipeline, settings: Partial<ReconcileConfig>) {
  let segments = { carried: -1, computed: -1 }
  const logger = pino({ level: 'debug' }, {
    write(line: string) {
      const entry = JSON.parse(line) as { msg: string; carried: number; computed: number }
      if (entry.msg === 'reconcile warehouse segments') segments = { carried: entry.carried, computed: entry.computed }
    },
  })
  const result = (await reconcile({ sources: p.sources, exports: p.exports, warehouse: p.warehouse, reconcile: settings, lakeRoot: p.lakeRoot, logger })).results[0]!
  return { result, ...segments }
}
