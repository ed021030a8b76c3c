import type { FastifyInstance } from 'fastify'
import { onTestFinished } from 'vitest'
import { createLogger } from '../../core/logger.ts'
import { createMetricsRegistry } from '../../core/metrics.ts'
import { Value } from '@sinclair/typebox/value'
import { ApiConfigSchema, buildApp, type ApiConfig, type AppDeps } from '../../reports-api/index.ts'
import { fixtureReportsDir, fixtureWarehouse, publishFixtureSnapshot } from '../helpers/snapshot-fixtures.ts'
import type { SnapshotStore } from '../../warehouse/snapshot-store.ts'
import { PassThrough } from 'node:stream'

export interface TestApi {
  app: FastifyInstance
  store: SnapshotStore
  reportsDir: string
  logs: Record<string, unknown>[]
}

export function apiConfig(overrides: Partial<ApiConfig> = {}): ApiConfig {
  return { ...(Value.Default(ApiConfigSchema, {}) as ApiConfig), reportsCheckIntervalMs: 0, ...overrides }
}

/** A reports API over a fresh warehouse (one snapshot published unless `publish: false`) and the fixture reports. */
export async function testApi(options: { config?: Partial<ApiConfig>; reports?: Record<string, string>; publish?: boolean; deps?: Partial<AppDeps> } = {}): Promise<TestApi> {
  const { store } = await fixtureWarehouse()
  if (options.publish !== false) await publishFixtureSnapshot(store)
  const reportsDir = await fixtureReportsDir(options.reports)
  const logs: Record<string, unknown>[] = []
  const stream = new PassThrough()
  stream.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>)
  })
  const app = await buildApp({
    snapshots: store,
    reportsDir,
    config: apiConfig(options.config),
    logger: createLogger({ level: 'info', destination: stream }),
    metrics: createMetricsRegistry({ defaultMetrics: false }),
    ...options.deps,
  })
  onTestFinished(() => app.close())
  return { app, store, reportsDir, logs }
}
