import type { FastifyInstance } from 'fastify'
import type { Registry } from '../core/metrics.ts'
import { recordPoolStats, type ApiMetrics, type PoolStats } from './api-metrics.ts'
import { snapshotFreshness } from './freshness.ts'
import type { SnapshotPool } from './snapshot-pool.ts'
import { ColdpipeError } from '../core/errors.ts'

export function registerOpsRoutes(app: FastifyInstance, deps: { pool: SnapshotPool; metrics: ApiMetrics; poolStats: () => PoolStats; registry: Registry }): void {
  app.get('/health', { schema: { summary: 'The process is up', tags: ['ops'] } }, async () => ({ status: 'ok' }))

  app.get('/ready', { schema: { summary: 'A snapshot is published and open (503 until then)', tags: ['ops'] } }, async () => {
    const manifest = await deps.pool.current()
    if (!manifest) throw new ColdpipeError('WAREHOUSE_NO_SNAPSHOT', 'no snapshot has been published yet')
    return { status: 'ready', snapshot: { id: manifest.id, publishedAt: manifest.publishedAt }, pools: deps.poolStats() }
  })

  app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['ops'] } }, async (_request, reply) => {
    const manifest = await deps.pool.current().catch(() => undefined)
    if (manifest) {
      deps.metrics.snapshotId.set(manifest.id)
      deps.metrics.snapshotAgeSeconds.set(Math.max(0, (Date.now() - Date.parse(manifest.publishedAt)) / 1000))
      deps.metrics.sourceLagSeconds.reset()
      for (const entry of snapshotFreshness(manifest)) deps.metrics.sourceLagSeconds.set({ source: entry.source }, entry.lagSeconds)
      deps.metrics.staleTables.reset()
      for (const stale of manifest.stale ?? []) deps.metrics.staleTables.set({ table: stale.table }, 1)
    }
    recordPoolStats(deps.metrics, deps.poolStats())
    reply.type(deps.registry.contentType)
    return deps.registry.metrics()
  })
}
