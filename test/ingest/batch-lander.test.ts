import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openDatabase, type Database } from '../../core/duckdb/index.ts'
import { silentLogger } from '../../core/logger.ts'
import { CommitLog } from '../../lake/index.ts'
import { BatchLander } from '../../ingest/changes/batch-lander.ts'
import type { ChangeRecord } from '../../ingest/changes/change-record.ts'
import type { ChangeTopicConfig } from '../../ingest/changes/changes-config.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { decimalBytes, envelopeSchema, mysqlChange, orderFields, postgresPayload, withoutSchema, withSchema } from './fixtures/envelopes.ts'
import { readCommittedRows } from './fixtures/lake-readback.ts'

const dbs: Database[] = []
afterEach(() => {
  for (const db of dbs.splice(0)) db.close()
})

async function newLander(lakeRoot: string, nativeTyping = true): Promise<{ lander: BatchLander; log: CommitLog }> {
  const db = await openDatabase(':memory:', { errorCode: 'INGEST_FAILED' })
  dbs.push(db)
  const log = await CommitLog.open(lakeRoot)
  return { lander: new BatchLander([db], log, 'run-test', silentLogger, nativeTyping), log }
}

function record(topic: string, offset: number, value: string | null, key: string | null = null): ChangeRecord {
  return {
    topic,
    partition: 0,
    offset: String(offset),
    key: key === null ? null : Buffer.from(key),
    value: value === null ? null : Buffer.from(value),
    headers: { origin: 'test' },
    timestamp: String(1_704_067_200_000 + offset),
  }
}

const ordersTopic: ChangeTopicConfig = { topic: 'shop.public.orders', format: 'debezium', service: 'ordering', table: 'orders', key: ['id'] }

describe('BatchLander', () => {
  it('two members landing overlapping ranges of one partition at once (a rebalance) land each record once', async () => {
    const lake = await tempDir()
    // Two landers with their own CommitLog on one lake: two processes of the group.
    const first = await newLander(lake)
    const second = await newLander(lake)
    const records = Array.from({ length: 40 }, (_, i) => record(ordersTopic.topic, i, withSchema(orderFields, { op: 'c', after: { id: i, status: 'new' } })))
    for (let round = 0; round < 5; round++) {
      // The old owner lands its in-flight buffer while the new owner lands from the committed offset on.
      const from = round * 8
      await Promise.all([first.lander.land(ordersTopic, 0, records.slice(from, from + 5)), second.lander.land(ordersTopic, 0, records.slice(from, from + 8))])
    }
    const { rows } = await readCommittedRows(lake)
    const offsets = rows.map((r) => Number(r._cp_offset)).sort((a, b) => a - b)
    expect(offsets).toEqual(Array.from({ length: 40 }, (_, i) => i))
    // A landing refused by the conditional commit leaves no file behind.
    const onDisk = (await readdir(join(lake, 'raw'), { recursive: true })).filter((f) => f.endsWith('.parquet')).map((f) => join('raw', f)).sort()
    const log = await CommitLog.open(lake)
    expect(onDisk).toEqual([...log.activeFiles().keys()].sort())
  })

  it('lands partitions at the same time over two connections; the watermark time comes from the newest source ts_ms', async () => {
    const lake = await tempDir()
    const db = await openDatabase(':memory:', { errorCode: 'INGEST_FAILED' })
    const second = await db.connect()
    dbs.push(second, db)
    const log = await CommitLog.open(lake)
    const lander = new BatchLander([db, second], log, 'run-test', silentLogger)
    const batch = (partition: number): ChangeRecord[] =>
      Array.from({ length: 300 }, (_, i) => ({
        ...record(ordersTopic.topic, i, withSchema(orderFields, { op: 'c', after: { id: partition * 1000 + i, status: 'new' }, tsMs: 1_700_000_000_000 + partition * 10_000 + i })),
        partition,
      }))
    const outcomes = await Promise.all([lander.land(ordersTopic, 0, batch(0)), lander.land(ordersTopic, 1, batch(1))])
    expect(outcomes.map((o) => [o.rows, o.duplicate])).toEqual([[300, false], [300, false]])
    const reopened = await CommitLog.open(lake)
    expect(reopened.watermarks().get('kafka:shop.public.orders:0')?.asOf).toBe(new Date(1_700_000_000_299).toISOString())
    expect(reopened.watermarks().get('kafka:shop.public.orders:1')?.asOf).toBe(new Date(1_700_000_010_299).toISOString())
    const { rows } = await readCommittedRows(lake)
    expect(new Set(rows.map((r) => Number(r.id))).size).toBe(600)
  })

  it.each([
    ['duckdb', true],
    ['js', false],
  ])('lands each op with schema types, metadata columns, and counts tombstones (typing in %s)', async (typing, nativeTyping) => {
    const lake = await tempDir()
    const { lander, log } = await newLander(lake, nativeTyping)
    const row = (id: number, status: string) => ({
      id,
      status,
      total: decimalBytes(-12345n + BigInt(id)),
      order_date: 19_723,
      updated_at: 1_704_067_200_123_456,
      paid_at: '2024-01-01T10:00:00.5+02:00',
      attrs: '{"lines":[1,2]}',
      ref: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      big: 9_007_199_254_740_000,
      gift: true,
      blob: Buffer.from('hi').toString('base64'),
    })
    const outcome = await lander.land(ordersTopic, 0, [
      record(ordersTopic.topic, 0, withSchema(orderFields, { op: 'r', after: row(1, 'snap'), lsn: 10 }), '{"id":1}'),
      record(ordersTopic.topic, 1, withSchema(orderFields, { op: 'c', after: row(2, 'new'), lsn: 11 })),
      record(ordersTopic.topic, 2, withSchema(orderFields, { op: 'u', before: row(2, 'new'), after: row(2, 'paid'), lsn: 12 })),
      record(ordersTopic.topic, 3, withSchema(orderFields, { op: 'd', before: row(2, 'paid'), lsn: 13 })),
      record(ordersTopic.topic, 4, null),
      record(ordersTopic.topic, 5, withSchema(orderFields, { op: 't', lsn: 14 })),
    ])
    expect(outcome).toMatchObject({ firstOffset: '0', lastOffset: '5', rows: 5, tombstones: 1, deadLetters: 0, duplicate: false })
    const { columns, rows } = await readCommittedRows(lake)
    const types = Object.fromEntries(columns.map((c) => [c.name, c.type]))
    expect(types).toMatchObject({
      id: 'INTEGER',
      total: 'DECIMAL(12,2)',
      order_date: 'DATE',
      updated_at: 'TIMESTAMP',
      paid_at: 'TIMESTAMP WITH TIME ZONE',
      ref: 'UUID',
      big: 'BIGINT',
      gift: 'BOOLEAN',
      blob: 'BLOB',
      _cp_op: 'VARCHAR',
      _cp_deleted: 'BOOLEAN',
      _cp_ts_ms: 'BIGINT',
      _cp_partition: 'INTEGER',
      _cp_offset: 'BIGINT',
      _cp_timestamp: 'TIMESTAMP WITH TIME ZONE',
    })
    expect(rows.map((r) => [r._cp_op, r._cp_deleted, r.id, r.status])).toEqual([
      ['r', false, 1, 'snap'],
      ['c', false, 2, 'new'],
      ['u', false, 2, 'paid'],
      ['d', true, 2, 'paid'],
      ['t', false, null, null],
    ])
    expect(rows[0]).toMatchObject({
      total: '-123.44',
      order_date: '2024-01-01',
      updated_at: '2024-01-01 00:00:00.123456',
      paid_at: '2024-01-01 08:00:00.5+00',
      big: '9007199254740000',
      _cp_source_pos: '00000000000000000010',
      _cp_ts_ms: '1700000000000',
      _cp_tx_id: '1000',
      _cp_topic: ordersTopic.topic,
      _cp_partition: 0,
      _cp_offset: '0',
      _cp_key: '{"id":1}',
      _cp_timestamp: '2024-01-01 00:00:00+00',
    })
    expect(JSON.parse(rows[0]!.attrs as string)).toEqual({ lines: [1, 2] })
    expect(JSON.parse(rows[0]!._cp_headers as string)).toEqual({ origin: 'test' })
    const commit = (await log.readCommit(log.latestVersion))!
    expect(commit.info?.typing).toBe(typing)
    expect(commit.idempotencyKey).toBe(`changes:${ordersTopic.topic}:0:0-5`)
    expect(commit.add[0]!.path).toBe(`raw/changes/ordering/orders/date=2024-01-01/${ordersTopic.topic}~0~${'0'.padStart(20, '0')}-${'5'.padStart(20, '0')}.parquet`)
    expect(commit.watermarks[0]).toMatchObject({ key: `kafka:${ordersTopic.topic}:0`, position: '5', kind: 'kafka-offset' })
  })

  it('replays idempotently: same range is a duplicate, misaligned ranges skip what is landed', async () => {
    const lake = await tempDir()
    const { lander } = await newLander(lake)
    const records = Array.from({ length: 10 }, (_, i) => record(ordersTopic.topic, i, withoutSchema({ op: 'c', after: { id: i } })))
    await lander.land(ordersTopic, 0, records.slice(0, 4))
    const again = await lander.land(ordersTopic, 0, records.slice(0, 4))
    expect(again.skipped).toBe(4)
    const overlap = await lander.land(ordersTopic, 0, records.slice(2, 10))
    expect(overlap).toMatchObject({ skipped: 2, firstOffset: '4', lastOffset: '9', rows: 6 })
    const { rows } = await readCommittedRows(lake)
    expect(rows.map((r) => r.id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    // A second process with a fresh lander sees the same watermark.
    const other = await newLander(lake)
    expect(await other.lander.landedPosition(ordersTopic.topic, 0)).toBe(9n)
  })

  it('infers schema-less types, widens across batches and adds new columns', async () => {
    const lake = await tempDir()
    const { lander } = await newLander(lake)
    const topic: ChangeTopicConfig = { topic: 'inv.items', format: 'debezium', service: 'catalog', table: 'items' }
    await lander.land(topic, 0, [record(topic.topic, 0, withoutSchema({ op: 'c', after: { id: 1, stock: 5, name: 'a' } }))])
    await lander.land(topic, 0, [record(topic.topic, 1, withoutSchema({ op: 'u', after: { id: 1, stock: 6_000_000_000, name: 'a', colour: 'red' } }))])
    await lander.land(topic, 0, [record(topic.topic, 2, withoutSchema({ op: 'u', after: { id: 1, stock: 7, name: 42 } }))])
    const state = JSON.parse(await readFile(join(lake, '_state', 'changes-types', 'catalog.items.json'), 'utf8'))
    expect(state.columns).toEqual({ id: 'INTEGER', stock: 'BIGINT', name: 'VARCHAR', colour: 'VARCHAR' })
    const { columns, rows } = await readCommittedRows(lake, 'items')
    expect(Object.fromEntries(columns.map((c) => [c.name, c.type]))).toMatchObject({ stock: 'BIGINT', name: 'VARCHAR', colour: 'VARCHAR' })
    expect(rows.map((r) => [r.stock, r.name, r.colour])).toEqual([
      ['5', 'a', null],
      ['6000000000', 'a', 'red'],
      ['7', '42', null],
    ])
  })

  it('quarantines bad records with reason and position while the good ones land', async () => {
    const lake = await tempDir()
    const { lander } = await newLander(lake)
    const topic: ChangeTopicConfig = { topic: 'inv.bad', format: 'debezium', service: 'catalog', table: 'items' }
    const outcome = await lander.land(topic, 0, [
      record(topic.topic, 0, withoutSchema({ op: 'c', after: { id: 1, ok: true } })),
      record(topic.topic, 1, '{oops'),
      record(topic.topic, 2, '{"no":"op"}'),
      record(topic.topic, 3, withoutSchema({ op: 'c', after: { id: 2, ok: 7 } })),
      record(topic.topic, 4, withoutSchema({ op: 'c', after: { id: 3, ok: false } })),
    ])
    expect(outcome).toMatchObject({ rows: 2, deadLetters: 3 })
    const dir = join(lake, '_dead', 'catalog', 'items', 'date=2024-01-01')
    const [file] = await readdir(dir)
    const letters = (await readFile(join(dir, file!), 'utf8')).trim().split('\n').map((l) => JSON.parse(l))
    expect(letters.map((l) => [l.source.offset, l.code])).toEqual([
      ['1', 'INGEST_DECODE_FAILED'],
      ['2', 'INGEST_DECODE_FAILED'],
      ['3', 'INGEST_TYPE_CONFLICT'],
    ])
    expect(letters[0]).toMatchObject({ source: { topic: topic.topic, partition: 0 }, payload: '{oops', payloadEncoding: 'utf8' })
    expect(letters[1].reason).toMatch(/no payload.op/)
    const { rows } = await readCommittedRows(lake, 'items')
    expect(rows.map((r) => r.id)).toEqual([1, 3])
  })

  it('gives the same source positions and Kafka times both ways (binlog file:pos, an LSN, times far from the epoch)', async () => {
    const landed: Record<string, unknown>[][] = []
    for (const nativeTyping of [true, false]) {
      const lake = await tempDir()
      const { lander, log } = await newLander(lake, nativeTyping)
      const binlog = (id: number, pos: number) => ({ ...JSON.parse(mysqlChange({ op: 'c', after: { id, status: 'new' }, file: 'mysql-bin.000003', pos })), transaction: null })
      const envelope = (payload: unknown) => JSON.stringify({ schema: envelopeSchema(orderFields), payload })
      const times = [0, 253_402_300_799_999, -62_135_596_800_000, 1_704_067_200_123]
      const batch = [
        binlog(1, 154),
        binlog(2, 9_007_199_254_740_991),
        postgresPayload({ op: 'c', after: { id: 3, status: 'new' }, lsn: 50_006_294 }),
        postgresPayload({ op: 'c', after: { id: 4, status: 'new' }, lsn: 0 }),
      ].map((payload, i) => ({ ...record(ordersTopic.topic, i, envelope(payload)), timestamp: String(times[i]) }))
      await lander.land(ordersTopic, 0, batch)
      expect((await log.readCommit(log.latestVersion))!.info?.typing).toBe(nativeTyping ? 'duckdb' : 'js')
      landed.push((await readCommittedRows(lake)).rows.map((r) => ({ pos: r._cp_source_pos, at: r._cp_timestamp })))
    }
    expect(landed[0]).toEqual([
      { pos: 'mysql-bin.000003:00000000000000000154', at: '1970-01-01 00:00:00+00' },
      { pos: 'mysql-bin.000003:00009007199254740991', at: '9999-12-31 23:59:59.999+00' },
      { pos: '00000000000050006294', at: '0001-01-01 00:00:00+00' },
      { pos: '00000000000000000000', at: '2024-01-01 00:00:00.123+00' },
    ])
    expect(landed[1]).toEqual(landed[0])
  })

  it('falls back from DuckDB-side typing to per-record dead letters when a value does not convert', async () => {
    const lake = await tempDir()
    const { lander, log } = await newLander(lake)
    const row = (id: number, paidAt: string | null) => ({ id, status: 's', total: decimalBytes(100n), order_date: 1, updated_at: 1, paid_at: paidAt, attrs: null, ref: null, big: 1, gift: null, blob: null })
    const outcome = await lander.land(ordersTopic, 0, [
      record(ordersTopic.topic, 0, withSchema(orderFields, { op: 'c', after: row(1, null) })),
      record(ordersTopic.topic, 1, withSchema(orderFields, { op: 'c', after: row(2, 'not a time') })),
      record(ordersTopic.topic, 2, withSchema(orderFields, { op: 'c', after: row(3, '2024-01-01T00:00:00Z') })),
    ])
    expect(outcome).toMatchObject({ rows: 2, deadLetters: 1 })
    expect((await log.readCommit(log.latestVersion))!.info?.typing).toBe('js')
    const { rows } = await readCommittedRows(lake)
    expect(rows.map((r) => r.id)).toEqual([1, 3])
  })

  it('lands integration events into the event columns', async () => {
    const lake = await tempDir()
    const { lander } = await newLander(lake)
    const topic: ChangeTopicConfig = { topic: 'ordering.events', format: 'integration-event', service: 'ordering' }
    await lander.land(topic, 0, [
      record(topic.topic, 0, JSON.stringify({ eventId: 'a', eventType: 'OrderStatusChanged', occurredAt: '2024-03-01T12:00:00.123456Z', payload: { orderId: 1, status: 'paid' } })),
      record(topic.topic, 1, JSON.stringify({ id: 'b', type: 'OrderStatusChanged', occurred_at: '2024-03-01T12:00:01Z', orderId: 2 })),
    ])
    const { columns, rows } = await readCommittedRows(lake, 'events')
    expect(columns.slice(0, 3).map((c) => c.type)).toEqual(['VARCHAR', 'VARCHAR', 'TIMESTAMP WITH TIME ZONE'])
    expect(rows.map((r) => [r.event_id, r.event_type, r.occurred_at])).toEqual([
      ['a', 'OrderStatusChanged', '2024-03-01 12:00:00.123456+00'],
      ['b', 'OrderStatusChanged', '2024-03-01 12:00:01+00'],
    ])
    expect(JSON.parse(rows[1]!.payload as string)).toEqual({ orderId: 2 })
  })
})
