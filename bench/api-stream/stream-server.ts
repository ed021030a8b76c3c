/**
 * The reports API as its own process for stream-bench.ts, so the peak RSS measured is the server's alone.
 *   node --import tsx bench/api-stream/stream-server.ts <warehouseDir> <reportsDir>
 * Prints `{"url": ...}` on stdout once listening; exits on SIGTERM.
 */
import { Value } from '@sinclair/typebox/value'
import { createLogger } from '../../core/logger.ts'
import { createMetricsRegistry } from '../../core/metrics.ts'
import { ApiConfigSchema, startServer, type ApiConfig } from '../../reports-api/index.ts'
import { SnapshotStore } from '../../warehouse/snapshot-store.ts'

const [warehouseDir, reportsDir] = process.argv.slice(2)
if (!warehouseDir || !reportsDir) throw new Error('usage: stream-server.ts <warehouseDir> <reportsDir>')
const config: ApiConfig = { ...(Value.Default(ApiConfigSchema, {}) as ApiConfig), port: 0, rateLimitPerMinute: 1_000_000 }
const server = await startServer({
  snapshots: new SnapshotStore(warehouseDir),
  reportsDir,
  config,
  logger: createLogger({ level: 'warn' }),
  metrics: createMetricsRegistry({ defaultMetrics: false }),
})
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`)
process.once('SIGTERM', () => {
  void server.close().finally(() => process.exit(0))
})
