import { Registry } from 'prom-client'
import { describe, expect, it, onTestFinished } from 'vitest'
import { ColdpipeError } from '../../core/errors.ts'
import { silentLogger } from '../../core/logger.ts'
import { startDevBroker } from '../../dev-broker/index.ts'
import { startChangeIngest, type ChangeIngest, type StartChangeIngestOptions } from '../../ingest/changes/index.ts'
import { faultProxy, type FaultProxy } from '../helpers/fault-proxy.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { capturedLogger } from './fixtures/captured-logger.ts'
import { withoutSchema } from './fixtures/envelopes.ts'
import { committedOffsets, createTopic, produce, unique } from './fixtures/kafka.ts'
import { readCommittedRows } from './fixtures/lake-readback.ts'

/**
 * A dev broker reached only through a fault proxy: the broker advertises the proxy's port in Metadata and
 * FindCoordinator, so every connection kafkajs opens (bootstrap, fetch, group coordinator) crosses it.
 */
async function brokerBehindProxy(): Promise<{ bootstrap: string; proxy: FaultProxy; direct: Awaited<ReturnType<typeof startDevBroker>> }> {
  // The proxy reads its target per connection, so the broker's port can be filled in once it listens.
  const target = { host: '127.0.0.1', port: 0 }
  const proxy = await faultProxy(target)
  const direct = await startDevBroker({ port: 0, advertisedPort: proxy.port })
  onTestFinished(() => direct.close())
  target.port = direct.port
  return { bootstrap: proxy.address, proxy, direct }
}

const padding = 'x'.repeat(700)
const messages = (from: number, count: number, partitions: number) =>
  Array.from({ length: count }, (_, i) => ({ partition: (from + i) % partitions, value: withoutSchema({ op: 'c', after: { id: from + i, padding } }) }))

async function startIngest(options: StartChangeIngestOptions): Promise<ChangeIngest> {
  const ingest = await startChangeIngest(options)
  onTestFinished(() => ingest.stop())
  return ingest
}

async function expectEachOnce(lake: string, table: string, total: number): Promise<void> {
  const { rows } = await readCommittedRows(lake, table)
  const ids = rows.map((r) => Number(r.id)).sort((a, b) => a - b)
  expect(ids).toEqual(Array.from({ length: total }, (_, i) => i))
  const positions = rows.map((r) => `${r._cp_partition}:${r._cp_offset}`)
  expect(new Set(positions).size).toBe(total)
}

const faultTolerant = { flushMaxRows: 150, flushMaxAgeMs: 150, requestTimeoutMs: 2_000, sessionTimeoutMs: 6_000, progressIntervalMs: 60_000 }

describe('change ingest with broker faults in the middle', () => {
  it('recovers from connections cut mid-fetch and lands every record exactly once', { timeout: 180_000 }, async () => {
    const { bootstrap, proxy, direct } = await brokerBehindProxy()
    const lake = await tempDir()
    const topic = unique('cut.items')
    const groupId = unique('g')
    await createTopic(direct, topic, 2)
    const total = 3_000
    await produce(direct, topic, messages(0, total, 2), 100)
    const registry = new Registry()
    const fatal: Error[] = []
    // Cut every connection after 300 kB and again after 600 kB more of fetch responses.
    proxy.cutAfter(300_000, 'down')
    const connectionsBefore = proxy.connections
    const ingest = await startIngest({
      config: { brokers: [bootstrap], groupId, topics: [{ topic, format: 'debezium', service: 'inv', table: 'cut_items' }], ...faultTolerant },
      lakeRoot: lake,
      logger: silentLogger,
      metrics: registry,
      onFatal: (error) => fatal.push(error),
    })
    await proxy.fired()
    proxy.cutAfter(600_000, 'down')
    await waitFor(() => ingest.stats().rowsLanded > 0, { timeoutMs: 60_000, message: 'landing goes on after the first cut' })
    await proxy.fired()
    expect(proxy.connections).toBeGreaterThan(connectionsBefore + 1) // kafkajs reconnected through the proxy
    await waitFor(() => ingest.stats().rowsLanded === total, { timeoutMs: 120_000, message: 'every record landed after the cuts' })
    await waitFor(async () => {
      const offsets = await committedOffsets(direct, groupId, topic)
      return offsets[0]! + offsets[1]! === total
    }, { timeoutMs: 30_000, message: 'offsets committed' })
    await ingest.stop()
    expect(fatal).toEqual([])
    await expectEachOnce(lake, 'cut_items', total)
  })

  it('recovers from a connection stalled past the request and session timeouts once it heals', { timeout: 180_000 }, async () => {
    const { bootstrap, proxy, direct } = await brokerBehindProxy()
    const lake = await tempDir()
    const topic = unique('stall.items')
    const groupId = unique('g')
    await createTopic(direct, topic, 2)
    // Produced up front: producers reach the broker through the proxy too (it is what Metadata advertises).
    await produce(direct, topic, messages(0, 2_000, 2), 100)
    const fatal: Error[] = []
    // Stall every connection after 400 kB of responses, in the middle of fetching the topic.
    proxy.stallAfter(400_000, 'down')
    const ingest = await startIngest({
      config: { brokers: [bootstrap], groupId, topics: [{ topic, format: 'debezium', service: 'inv', table: 'stall_items' }], ...faultTolerant },
      lakeRoot: lake,
      logger: silentLogger,
      onFatal: (error) => fatal.push(error),
    })
    await proxy.fired()
    const stalledAt = proxy.connections
    // kafkajs gives up on the silent connection at its request timeout and opens new ones (which stall too);
    // two new connections also outlast the 6 s session timeout's heartbeats.
    await waitFor(() => proxy.connections >= stalledAt + 2, { timeoutMs: 60_000, message: 'kafkajs timed out the stalled connection and reconnected' })
    expect(ingest.stats().rowsLanded).toBeLessThan(2_000)
    const receivedWhileStalled = ingest.stats().received
    proxy.heal()
    await waitFor(() => ingest.stats().received > receivedWhileStalled, { timeoutMs: 45_000, message: 'consumption progresses after heal' })
    await waitFor(() => ingest.stats().rowsLanded === 2_000, { timeoutMs: 60_000, message: 'every record landed after heal' })
    await waitFor(async () => {
      const offsets = await committedOffsets(direct, groupId, topic)
      return offsets[0]! + offsets[1]! === 2_000
    }, { timeoutMs: 30_000, message: 'offsets committed' })
    await ingest.stop()
    expect(fatal).toEqual([])
    await expectEachOnce(lake, 'stall_items', 2_000)
  })

  it('ends loudly (coded error, log line, metric) when the consumer gives up on an unreachable broker', { timeout: 120_000 }, async () => {
    const { bootstrap, proxy, direct } = await brokerBehindProxy()
    const lake = await tempDir()
    const topic = unique('down.items')
    await createTopic(direct, topic, 1)
    await produce(direct, topic, messages(0, 100, 1))
    const registry = new Registry()
    const { logger, lines } = capturedLogger()
    const fatal: Error[] = []
    const ingest = await startIngest({
      config: { brokers: [bootstrap], groupId: unique('g'), topics: [{ topic, format: 'debezium', service: 'inv', table: 'down_items' }], ...faultTolerant, brokerRetries: 1, consumerRestarts: 1 },
      lakeRoot: lake,
      logger,
      metrics: registry,
      onFatal: (error) => fatal.push(error),
    })
    await waitFor(() => ingest.stats().rowsLanded === 100, { timeoutMs: 60_000, message: 'records landed before the broker went away' })
    await proxy.down()
    await waitFor(() => fatal.length > 0, { timeoutMs: 90_000, message: 'ingest gave up' })
    expect(fatal[0]).toBeInstanceOf(ColdpipeError)
    expect((fatal[0] as ColdpipeError).code).toBe('INGEST_BROKER_FAILED')
    expect((fatal[0] as ColdpipeError).context).toMatchObject({ brokers: [bootstrap] })
    expect(ingest.stats().failed).toMatchObject({ code: 'INGEST_BROKER_FAILED' })
    expect(ingest.stats().consumerRestarts).toBeGreaterThanOrEqual(1)
    const metrics = await registry.metrics()
    expect(metrics).toMatch(/coldpipe_ingest_stopped_on_error_total\{code="INGEST_BROKER_FAILED"\} 1/)
    expect(metrics).toMatch(/coldpipe_ingest_consumer_restarts_total [1-9]/)
    const stopped = lines.find((l) => l.level === 50 && l.code === 'INGEST_BROKER_FAILED' && l.component === 'change-ingest')
    expect(stopped, 'an error log line with the code').toBeDefined()
    expect(stopped!.runId).toBe(ingest.runId)
    // Nothing past what landed is committed, and stop() still returns.
    await ingest.stop()
    await expectEachOnce(lake, 'down_items', 100)
  })
})
