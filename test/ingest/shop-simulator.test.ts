import { describe, expect, it, onTestFinished } from 'vitest'
import { silentLogger } from '../../core/logger.ts'
import { ShopGenerator, startShopSimulator, type ShopTopics } from '../../demo/simulator/index.ts'
import { startChangeIngest } from '../../ingest/changes/index.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { testBroker, unique } from './fixtures/kafka.ts'
import { readCommittedRows } from './fixtures/lake-readback.ts'

describe('shop simulator', () => {
  it('is deterministic for a seed', () => {
    const clock = () => 1_700_000_000_000
    const a = new ShopGenerator(7, undefined, clock)
    const b = new ShopGenerator(7, undefined, clock)
    const take = (g: ShopGenerator) => Array.from({ length: 200 }, () => g.step()).flat()
    expect(take(a)).toEqual(take(b))
  })

  it('publishes envelopes and events that ingest lands with the shop tables\' types', async () => {
    const broker = await testBroker()
    const lake = await tempDir()
    const prefix = unique('demo')
    const topics: ShopTopics = {
      orders: `${prefix}.ordering.public.orders`,
      catalogItems: `${prefix}.catalog.public.catalog_items`,
      orderingEvents: `${prefix}.ordering.events`,
      catalogEvents: `${prefix}.catalog.events`,
    }
    const simulator = await startShopSimulator({ brokers: [broker.bootstrap], topics, rateEventsPerSecond: 2000, seed: 42, logger: silentLogger, maxMessages: 600 })
    onTestFinished(() => simulator.stop())
    await simulator.finished
    await simulator.stop()
    const ingest = await startChangeIngest({
      config: {
        brokers: [broker.bootstrap],
        groupId: unique('g'),
        topics: [
          { topic: topics.orders, format: 'debezium', service: 'ordering', table: 'orders', key: ['id'] },
          { topic: topics.catalogItems, format: 'debezium', service: 'catalog', table: 'catalog_items', key: ['id'] },
          { topic: topics.orderingEvents, format: 'integration-event', service: 'ordering' },
          { topic: topics.catalogEvents, format: 'integration-event', service: 'catalog' },
        ],
        flushMaxAgeMs: 100,
      },
      lakeRoot: lake,
      logger: silentLogger,
    })
    onTestFinished(() => ingest.stop())
    const expected = simulator.sent()
    expect(expected).toBeGreaterThanOrEqual(600)
    await waitFor(() => ingest.stats().rowsLanded === expected, { timeoutMs: 30_000, message: 'all simulated messages landed' })
    expect(ingest.stats().deadLetters).toBe(0)
    await ingest.stop()
    const orders = await readCommittedRows(lake, 'orders')
    expect(Object.fromEntries(orders.columns.map((c) => [c.name, c.type]))).toMatchObject({ id: 'INTEGER', total: 'DECIMAL(12,2)', order_date: 'TIMESTAMP', updated_at: 'TIMESTAMP' })
    expect(Math.min(...orders.rows.map((r) => Number(r.id)))).toBeGreaterThanOrEqual(1_000_000)
    const items = await readCommittedRows(lake, 'catalog_items')
    expect(Object.fromEntries(items.columns.map((c) => [c.name, c.type]))).toMatchObject({ price: 'DECIMAL(10,2)', available_stock: 'INTEGER' })
    const positions = [...orders.rows, ...items.rows].map((r) => String(r._cp_source_pos))
    expect(new Set(positions).size).toBe(positions.length)
  })
})
