import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Registry } from 'prom-client'
import { describe, expect, it, onTestFinished } from 'vitest'
import { silentLogger } from '../../core/logger.ts'
import { startChangeIngest, type ChangeIngest, type StartChangeIngestOptions } from '../../ingest/changes/index.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { decimalBytes, orderFields, withoutSchema, withSchema } from './fixtures/envelopes.ts'
import { committedOffsets, createTopic, produce, testBroker, unique } from './fixtures/kafka.ts'
import { readCommittedRows } from './fixtures/lake-readback.ts'

async function ingestFor(options: StartChangeIngestOptions): Promise<ChangeIngest> {
  const ingest = await startChangeIngest(options)
  onTestFinished(() => ingest.stop())
  return ingest
}

describe('change ingest through the dev broker', () => {
  it('lands Debezium envelopes and integration events with types, tombstones, and dead letters, then commits offsets', async () => {
    const broker = await testBroker()
    const lake = await tempDir()
    const orders = unique('ordering.public.orders')
    const events = unique('ordering.events')
    const groupId = unique('g')
    await createTopic(broker, orders, 2)
    await createTopic(broker, events, 1)

    const row = (id: number, status: string) => ({ id, status, total: decimalBytes(BigInt(id) * 100n + 99n), order_date: 19_723 + id, updated_at: 1_704_067_200_000_000 + id, paid_at: null, attrs: '{}', ref: null, big: id, gift: id % 2 === 0, blob: null })
    const orderMessages = []
    for (let id = 1; id <= 40; id++) {
      const partition = id % 2
      orderMessages.push({ partition, key: JSON.stringify({ id }), value: withSchema(orderFields, { op: 'c', after: row(id, 'submitted'), lsn: 1000 + id }) })
      orderMessages.push({ partition, key: JSON.stringify({ id }), value: withSchema(orderFields, { op: 'u', before: row(id, 'submitted'), after: row(id, 'paid'), lsn: 2000 + id }) })
      if (id % 10 === 0) {
        orderMessages.push({ partition, key: JSON.stringify({ id }), value: withSchema(orderFields, { op: 'd', before: row(id, 'paid'), lsn: 3000 + id }) })
        orderMessages.push({ partition, key: JSON.stringify({ id }), value: null })
      }
      if (id === 7) orderMessages.push({ partition, key: 'poison', value: 'this is not json' })
      if (id === 8) orderMessages.push({ partition, key: 'poison', value: withoutSchema({ op: 'c', after: null }) })
    }
    await produce(broker, orders, orderMessages, 7)
    await produce(broker, events, [
      { value: JSON.stringify({ eventId: 'e1', eventType: 'OrderStatusChanged', occurredAt: '2024-01-01T10:00:00Z', payload: { orderId: 1, status: 'paid' } }), headers: { source: 'ordering' } },
      { value: JSON.stringify({ id: 'e2', type: 'OrderStatusChanged', timestamp: '2024-01-01T10:00:01Z', orderId: 2 }) },
      { value: '{"no_id":true}' },
    ])

    const registry = new Registry()
    const ingest = await ingestFor({
      config: {
        brokers: [broker.bootstrap],
        groupId,
        topics: [
          { topic: orders, format: 'debezium', service: 'ordering', table: 'orders', key: ['id'] },
          { topic: events, format: 'integration-event', service: 'ordering' },
        ],
        flushMaxRows: 25,
        flushMaxAgeMs: 100,
      },
      lakeRoot: lake,
      logger: silentLogger,
      metrics: registry,
    })
    // 40 creates + 40 updates + 4 deletes; 4 tombstones; 2 poison; 2 good events + 1 poison event
    await waitFor(() => ingest.stats().rowsLanded === 86 && ingest.stats().deadLetters === 3, { timeoutMs: 30_000, message: 'all rows landed' })
    expect(ingest.stats().tombstones).toBe(4)
    await waitFor(async () => {
      const offsets = await committedOffsets(broker, groupId, orders)
      return offsets[0]! + offsets[1]! === orderMessages.length
    }, { timeoutMs: 15_000, message: 'offsets committed' })
    await ingest.stop()

    const { rows, columns } = await readCommittedRows(lake, 'orders')
    if (process.env.DEBUG_INGEST) {
      const { CommitLog } = await import('../../lake/index.ts')
      const log = await CommitLog.open(lake)
      for (const c of await Promise.all(Array.from({ length: log.latestVersion + 1 }, (_, v) => log.readCommit(v)))) if (c) console.log(c.version, c.idempotencyKey, c.info, c.add.map((f) => [f.path.split('/').pop(), f.rows]))
      console.log(rows.map((r) => `${r._cp_partition}:${r._cp_offset}:${r._cp_op}:${r.id}`).join(' '))
    }
    expect(Object.fromEntries(columns.map((c) => [c.name, c.type]))).toMatchObject({ total: 'DECIMAL(12,2)', order_date: 'DATE', updated_at: 'TIMESTAMP' })
    expect(rows).toHaveLength(84)
    const byKey = new Map(rows.map((r) => [`${r.id}:${r._cp_op}`, r]))
    expect(byKey.get('7:c')).toMatchObject({ total: '7.99', order_date: '2024-01-08', updated_at: '2024-01-01 00:00:00.000007', _cp_source_pos: '00000000000000001007', _cp_key: '{"id":7}' })
    expect(byKey.get('10:d')).toMatchObject({ _cp_deleted: true, status: 'paid' })
    // Every position is present exactly once (no duplicates) and in offset order per partition.
    for (const r of rows) expect(Number(r._cp_partition)).toBe(Number(r.id) % 2) // produced to partition id % 2
    const positions = rows.map((r) => `${r._cp_partition}:${r._cp_offset}`)
    expect(new Set(positions).size).toBe(positions.length)

    const dead = join(lake, '_dead', 'ordering')
    const letters = []
    for (const table of await readdir(dead)) {
      for (const day of await readdir(join(dead, table))) {
        for (const file of await readdir(join(dead, table, day))) {
          letters.push(...(await readFile(join(dead, table, day, file), 'utf8')).trim().split('\n').map((l) => JSON.parse(l)))
        }
      }
    }
    expect(letters).toHaveLength(3)
    expect(letters.map((l) => l.reason).sort()).toEqual([expect.stringMatching(/no id/), expect.stringMatching(/no after row/), expect.stringMatching(/not valid JSON/)])
    for (const letter of letters) expect(letter.source).toMatchObject({ topic: expect.any(String), partition: expect.any(Number), offset: expect.any(String) })

    const eventRows = (await readCommittedRows(lake, 'events')).rows
    expect(eventRows.map((r) => [r.event_id, r.event_type, r.occurred_at])).toEqual([
      ['e1', 'OrderStatusChanged', '2024-01-01 10:00:00+00'],
      ['e2', 'OrderStatusChanged', '2024-01-01 10:00:01+00'],
    ])
    expect(JSON.parse(eventRows[0]!._cp_headers as string)).toEqual({ source: 'ordering' })
    const metricsText = await registry.metrics()
    expect(metricsText).toMatch(/coldpipe_ingest_dead_letters_total\{topic="[^"]+",code="INGEST_DECODE_FAILED"\} 2/)
  })

  it('lands schema-less changes, widening types and adding columns across batches', async () => {
    const broker = await testBroker()
    const lake = await tempDir()
    const topic = unique('inv.items')
    await createTopic(broker, topic, 1)
    await produce(broker, topic, [
      { value: withoutSchema({ op: 'r', after: { id: 1, stock: 5 } }) },
      { value: withoutSchema({ op: 'c', after: { id: 2, stock: 6 } }) },
    ])
    const config = { brokers: [broker.bootstrap], groupId: unique('g'), topics: [{ topic, format: 'debezium' as const, service: 'catalog', table: 'items' }], flushMaxRows: 2, flushMaxAgeMs: 100 }
    const ingest = await ingestFor({ config, lakeRoot: lake, logger: silentLogger })
    await waitFor(() => ingest.stats().rowsLanded === 2, { timeoutMs: 20_000 })
    await produce(broker, topic, [
      { value: withoutSchema({ op: 'u', after: { id: 1, stock: 1.5, colour: 'red' } }) },
      { value: withoutSchema({ op: 'u', after: { id: 2, stock: 3, colour: 7 } }) },
    ])
    await waitFor(() => ingest.stats().rowsLanded === 4, { timeoutMs: 20_000 })
    await ingest.stop()
    const { columns, rows } = await readCommittedRows(lake, 'items')
    expect(Object.fromEntries(columns.map((c) => [c.name, c.type]))).toMatchObject({ id: 'INTEGER', stock: 'DOUBLE', colour: 'VARCHAR' })
    expect(rows.map((r) => [r.id, r.stock, r.colour])).toEqual([
      [1, 5, null],
      [2, 6, null],
      [1, 1.5, 'red'],
      [2, 3, '7'],
    ])
  })

  it('pauses consumption when the sink is slow and keeps buffered bytes bounded', async () => {
    const broker = await testBroker()
    const lake = await tempDir()
    const topic = unique('slow')
    await createTopic(broker, topic, 1)
    const padding = 'x'.repeat(1000)
    const total = 1500
    await produce(broker, topic, Array.from({ length: total }, (_, i) => ({ value: withoutSchema({ op: 'c', after: { id: i, padding } }) })), 10)
    let open!: () => void
    const gate = new Promise<void>((resolve) => (open = resolve))
    const maxBufferedBytes = 100_000
    const ingest = await ingestFor({
      config: { brokers: [broker.bootstrap], groupId: unique('g'), topics: [{ topic, format: 'debezium', service: 'catalog', table: 'slow' }], flushMaxRows: 20, flushMaxAgeMs: 50, maxBufferedBytes },
      lakeRoot: lake,
      logger: silentLogger,
      onCommitted: () => gate,
    })
    await waitFor(() => ingest.stats().paused, { timeoutMs: 20_000, message: 'consumption paused' })
    const whilePaused = ingest.stats()
    expect(whilePaused.pauses).toBeGreaterThanOrEqual(1)
    expect(whilePaused.received).toBeLessThan(total)
    open()
    await waitFor(() => ingest.stats().rowsLanded === total, { timeoutMs: 30_000, message: 'everything landed after the sink caught up' })
    const after = ingest.stats()
    expect(after.resumes).toBeGreaterThanOrEqual(1)
    // Consumption pauses two fetches below the limit, so what was already fetched still fits under it.
    expect(after.bufferedBytesHighWater).toBeLessThanOrEqual(maxBufferedBytes)
    const { rows } = await readCommittedRows(lake, 'slow')
    expect(rows.map((r) => r.id)).toEqual(Array.from({ length: total }, (_, i) => i))
  })
})
