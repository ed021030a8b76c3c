import type { FastifyInstance } from 'fastify'
import { Gauge } from 'prom-client'
import { ColdpipeError } from '../core/errors.ts'
import type { Registry } from '../core/metrics.ts'
import { readResults, type ReconcileTableResult } from '../warehouse/reconcile/reconcile-result.ts'

/** One table's latest reconciliation, without the row-level lists (those are in the detail). */
function summaryOf(r: ReconcileTableResult) {
  return {
    table: `${r.source}.${r.table}`, status: r.status, checkedAt: r.checkedAt, snapshot: r.snapshot, basis: r.compared.basis,
    counts: r.counts, missing: r.missingCount, extra: r.extraCount, different: r.differentCount,
    differingSegments: r.differingSegments.length + r.unresolvedSegments, sampleKeys: r.sampleKeys, ...(r.error ? { error: r.error } : {}),
  }
}

/**
 * `GET /reconciliation` (every table's latest result) and `GET /reconciliation/:table` (one table in full,
 * `source.table`), read from the warehouse's `_state/reconcile/`; and the per-table gauges on /metrics, read at
 * scrape time so a reconcile run in another process shows without a restart.
 */
export function registerReconciliationRoutes(app: FastifyInstance, deps: { warehouseDir: string; registry: Registry }): void {
  const registers = [deps.registry]
  // Each gauge's collect runs on every scrape, concurrently with the others: one read shared per scrape.
  let pending: { at: number; results: Promise<ReconcileTableResult[]> } | undefined
  const latest = (): Promise<ReconcileTableResult[]> => {
    if (!pending || Date.now() - pending.at > 1000) pending = { at: Date.now(), results: readResults(deps.warehouseDir) }
    return pending.results
  }
  new Gauge({
    name: 'coldpipe_reconcile_match',
    help: 'Per table: 1 when its latest reconciliation matched its source, 0 when it differed or could not be compared',
    labelNames: ['table', 'status'],
    registers,
    async collect() {
      const results = await latest()
      this.reset()
      for (const r of results) this.set({ table: `${r.source}.${r.table}`, status: r.status }, r.status === 'match' ? 1 : 0)
    },
  })
  new Gauge({
    name: 'coldpipe_reconcile_differing_rows',
    help: 'Per table: rows missing, extra or different in its latest reconciliation',
    labelNames: ['table'],
    registers,
    async collect() {
      const results = await latest()
      this.reset()
      for (const r of results) this.set({ table: `${r.source}.${r.table}` }, r.missingCount + r.extraCount + r.differentCount)
    },
  })
  new Gauge({
    name: 'coldpipe_reconcile_checked_timestamp_seconds',
    help: 'Per table: when its latest reconciliation ran (Unix seconds)',
    labelNames: ['table'],
    registers,
    async collect() {
      const results = await latest()
      this.reset()
      for (const r of results) this.set({ table: `${r.source}.${r.table}` }, Date.parse(r.checkedAt) / 1000)
    },
  })

  app.get('/reconciliation', { schema: { summary: "Every table's latest reconciliation against its source", tags: ['ops'] } }, async () => {
    const results = await readResults(deps.warehouseDir)
    return { tables: results.map(summaryOf) }
  })

  app.get<{ Params: { table: string } }>(
    '/reconciliation/:table',
    { schema: { summary: "One table's latest reconciliation in full (`source.table`): what was compared, differing segments and keys", tags: ['ops'], params: { type: 'object', properties: { table: { type: 'string' } }, required: ['table'] } } },
    async (request) => {
      const found = (await readResults(deps.warehouseDir)).find((r) => `${r.source}.${r.table}` === request.params.table)
      if (!found) throw new ColdpipeError('RECONCILE_TABLE_NOT_FOUND', `no reconciliation of table ${request.params.table} has run (run \`coldpipe reconcile\`)`, { context: { table: request.params.table } })
      return found
    },
  )
}
