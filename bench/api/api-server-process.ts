/**
 * One server of the API benchmark as its own process, so the load generator (autocannon, in the bench's
 * process) does not share its event loop, as with a real client:
 *   node --import tsx bench/api/api-server-process.ts <cached|uncached|hello> [warehouseDir reportsDir]
 * Prints `{"url": ...}` on stdout once listening; exits on SIGTERM. The report servers log as `coldpipe serve`
 * does (pino at info to stderr); the hello-world server is a bare fastify() as the issue states it.
 */
import { Value } from '@sinclair/typebox/value'
import Fastify from 'fastify'
import { createLogger } from '../../core/logger.ts'
import { createMetricsRegistry } from '../../core/metrics.ts'
import { ApiConfigSchema, startServer, type ApiConfig } from '../../reports-api/index.ts'
import { SnapshotStore } from '../../warehouse/snapshot-store.ts'

const [kind, warehouseDir, reportsDir] = process.argv.slice(2)
let close: () => Promise<unknown>
if (kind === 'hello') {
  const hello = Fastify()
  hello.get('/hello', async () => ({ hello: 'world' }))
  await hello.listen({ host: '127.0.0.1', port: 0 })
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${(hello.server.address() as { port: number }).port}` })}\n`)
  close = () => hello.close()
} else if ((kind === 'cached' || kind === 'uncached') && warehouseDir && reportsDir) {
  const config: ApiConfig = {
    ...(Value.Default(ApiConfigSchema, {}) as ApiConfig),
    port: 0,
    rateLimitPerMinute: 100_000_000,
    ...(kind === 'uncached' ? { cacheMaxBytes: 0 } : {}),
  }
  const server = await startServer({
    snapshots: new SnapshotStore(warehouseDir),
    reportsDir,
    config,
    // As shipped (`coldpipe serve`): level info unless COLDPIPE_LOG_LEVEL says otherwise, one JSON line per
    // request to stderr (gathered per event-loop turn, as serve does), which the bench sends to a file as a
    // service manager would.
    logger: createLogger({ batchPerTurn: true }),
    metrics: createMetricsRegistry({ defaultMetrics: false }),
  })
  process.stdout.write(`${JSON.stringify({ url: server.url })}\n`)
  close = () => server.close()
} else {
  throw new Error('usage: api-server-process.ts <cached|uncached|hello> [warehouseDir reportsDir]')
}
process.once('SIGTERM', () => {
  void close().finally(() => process.exit(0))
})
