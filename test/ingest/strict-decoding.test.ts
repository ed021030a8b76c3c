import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it, onTestFinished } from 'vitest'
import { openDatabase, type Database } from '../../core/duckdb/index.ts'
import { silentLogger } from '../../core/logger.ts'
import { BatchLander } from '../../ingest/changes/batch-lander.ts'
import type { ChangeRecord } from '../../ingest/changes/change-record.ts'
import type { ChangeTopicConfig } from '../../ingest/changes/changes-config.ts'
import { startChangeIngest } from '../../ingest/changes/index.ts'
import { CommitLog } from '../../lake/index.ts'
import { decodeDecimalBytes, decodeIntegrationEvent, typeConnectField } from '../../transform/index.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { decimalBytes, type FieldSchema, withSchema } from './fixtures/envelopes.ts'
import { createTopic, produce, testBroker, unique } from './fixtures/kafka.ts'
import { readCommittedRows } from './fixtures/lake-readback.ts'

const dbs: Database[] = []
afterEach(() => {
  for (const db of dbs.splice(0)) db.close()
})

const convert = (schema: object, value: unknown): unknown => typeConnectField({ field: 'x', ...schema } as never).convert(value)
const decimal = { type: 'bytes', name: 'org.apache.kafka.connect.data.Decimal', parameters: { scale: '2', 'connect.decimal.precision': '6' } }

describe('strict value decoding', () => {
  it('refuses decimal bytes that are not strictly valid base64 (Node would decode them to another number)', () => {
    // Buffer.from('A!ZU=', 'base64') silently drops the '!' and yields 405 → 4.05.
    for (const bad of ['A!ZU=', 'AZ=U', 'AZU', 'AZ U=', '', 'AZU==', '====']) {
      expect(() => decodeDecimalBytes(bad, 2), bad).toThrow(/valid base64|at least one byte/)
    }
    expect(decodeDecimalBytes('AZU=', 2)).toBe('4.05')
    expect(() => convert(decimal, 'A!ZU=')).toThrow(/decimal bytes/)
    // DECIMAL(6,2) holds at most 9999.99: a value past the precision is refused, not left to fail the batch.
    expect(convert(decimal, decimalBytes(999_999n))).toBe('9999.99')
    expect(() => convert(decimal, decimalBytes(1_000_000n))).toThrow(/DECIMAL\(6,2\)/)
    const variable = { type: 'struct', name: 'io.debezium.data.VariableScaleDecimal' }
    expect(convert(variable, { scale: 3, value: decimalBytes(-1500n) })).toBe('-1.500')
    expect(() => convert(variable, { scale: 3, value: 'A!ZU=' })).toThrow(/valid base64/)
    expect(() => convert(variable, { scale: 'x', value: 'AZU=' })).toThrow(/integer scale/)
    const sourceNumeric = { type: 'string', parameters: { '__debezium.source.column.type': 'NUMERIC', '__debezium.source.column.length': '6', '__debezium.source.column.scale': '2' } }
    expect(convert(sourceNumeric, '12.5')).toBe('12.5')
    for (const bad of ['NaN', '1e5', '12.345', '123456.0']) expect(() => convert(sourceNumeric, bad), bad).toThrow(/DECIMAL/)
  })

  it('refuses bytes, integers, dates, times and timestamps with impossible values', () => {
    expect(() => convert({ type: 'bytes' }, 'not base64!')).toThrow(/base64/)
    expect(convert({ type: 'bytes' }, 'AAEC')).toBe('AAEC')
    expect(() => convert({ type: 'int8' }, 300)).toThrow(/int8/)
    expect(() => convert({ type: 'int32' }, 2 ** 31)).toThrow(/int32/)
    expect(() => convert({ type: 'int64' }, '99999999999999999999')).toThrow(/int64/)
    expect(() => convert({ type: 'int32' }, 1.5)).toThrow(/integer/)
    const date = { type: 'int32', name: 'io.debezium.time.Date' }
    expect(convert(date, 2_932_896)).toBe('9999-12-31')
    expect(() => convert(date, 999_999_999)).toThrow(/date/)
    const micros = { type: 'int64', name: 'io.debezium.time.MicroTimestamp' }
    // Postgres 'infinity' as Debezium encodes it lands as DuckDB's infinity; a count one off is impossible.
    expect(convert(micros, '9223372036825200000')).toBe('infinity')
    expect(() => convert(micros, '9223372036825200001')).toThrow(/timestamp/)
    expect(() => convert({ type: 'int64', name: 'io.debezium.time.Timestamp' }, 253_402_300_800_000)).toThrow(/timestamp/)
    const time = { type: 'int64', name: 'io.debezium.time.MicroTime' }
    expect(convert(time, 86_400_000_000)).toBe('24:00:00.000000')
    expect(() => convert(time, 86_400_000_001)).toThrow(/time of day/)
    expect(() => convert(time, -1)).toThrow(/time of day/)
    const zoned = { type: 'string', name: 'io.debezium.time.ZonedTimestamp' }
    expect(convert(zoned, '2024-02-29T10:00:00.123456Z')).toBe('2024-02-29T10:00:00.123456Z')
    for (const bad of ['2024-02-30T00:00:00Z', '2023-02-29T00:00:00Z', '2024-01-01T25:00:00Z', 'March 7 2024', '1']) {
      expect(() => convert(zoned, bad), bad).toThrow(/ISO-8601/)
    }
    const zonedTime = { type: 'string', name: 'io.debezium.time.ZonedTime' }
    // DuckDB's TIMETZ refuses a trailing Z, which would fail the whole batch: it becomes +00.
    expect(convert(zonedTime, '10:15:30Z')).toBe('10:15:30+00')
    expect(convert(zonedTime, '10:15:30.5-05:30')).toBe('10:15:30.5-05:30')
    for (const bad of ['noon', '10:15+02', '25:00:00Z']) expect(() => convert(zonedTime, bad), bad).toThrow(/time with offset/)
  })

  it('refuses integration events with an impossible time', () => {
    for (const bad of ['2024-02-30T00:00:00Z', 'March 7 2024', 1e20]) {
      expect(() => decodeIntegrationEvent(JSON.stringify({ id: 'e', type: 'T', occurredAt: bad }), '2024-01-01T00:00:00Z'), String(bad)).toThrow(/not a date-time/)
    }
    expect(decodeIntegrationEvent(JSON.stringify({ id: 'e', type: 'T', occurredAt: '2024-03-01' }), '').occurredAt).toBe('2024-03-01T00:00:00Z')
  })
})

const fields: FieldSchema[] = [
  { type: 'int32', optional: false, field: 'id' },
  { type: 'bytes', optional: true, name: 'org.apache.kafka.connect.data.Decimal', version: 1, parameters: { scale: '2', 'connect.decimal.precision': '12' }, field: 'total' },
  { type: 'int32', optional: true, name: 'io.debezium.time.Date', version: 1, field: 'day' },
  { type: 'bytes', optional: true, field: 'blob' },
]
const good = (id: number) => ({ id, total: decimalBytes(BigInt(id) * 100n + 5n), day: 19_723, blob: 'AAEC' })
/** [row, the field to blame]: each is undecodable in one field, and the rest of the batch must land. */
const badRows: [Record<string, unknown>, string][] = [
  [{ ...good(101), total: 'A!ZU=' }, 'total'],
  [{ ...good(102), total: 'AZ=U' }, 'total'],
  [{ ...good(103), day: 999_999_999 }, 'day'],
  [{ ...good(104), blob: 'AZ=U' }, 'blob'],
]

function envelopes(topic: string): ChangeRecord[] {
  const rows = [good(1), ...badRows.map(([row]) => row), good(2)]
  return rows.map((after, offset) => ({
    topic,
    partition: 3,
    offset: String(offset),
    key: Buffer.from(String(after.id)),
    value: Buffer.from(withSchema(fields, { op: 'c', after })),
    headers: {},
    timestamp: String(1_704_067_200_000 + offset),
  }))
}

async function readLetters(lake: string): Promise<Record<string, any>[]> {
  const letters: Record<string, any>[] = []
  const root = join(lake, '_dead')
  for (const file of await readdir(root, { recursive: true })) {
    if (file.endsWith('.ndjson')) letters.push(...(await readFile(join(root, file), 'utf8')).trim().split('\n').map((l) => JSON.parse(l)))
  }
  return letters.sort((a, b) => Number(a.source.offset) - Number(b.source.offset))
}

describe('undecodable values go to the dead letters, the rest of the batch lands', () => {
  for (const nativeTyping of [true, false]) {
    it(`names topic, partition, offset, field and reason (typing in ${nativeTyping ? 'duckdb first' : 'js'})`, async () => {
      const lake = await tempDir()
      const db = await openDatabase(':memory:', { errorCode: 'INGEST_FAILED' })
      dbs.push(db)
      const log = await CommitLog.open(lake)
      const topic: ChangeTopicConfig = { topic: 'shop.public.payments', format: 'debezium', service: 'billing', table: 'payments', key: ['id'] }
      const outcome = await new BatchLander([db], log, 'run-test', silentLogger, nativeTyping).land(topic, 3, envelopes(topic.topic))
      expect(outcome).toMatchObject({ rows: 2, deadLetters: badRows.length, deadLetterCodes: { INGEST_DECODE_FAILED: badRows.length } })
      const letters = await readLetters(lake)
      expect(letters.map((l) => [l.source.topic, l.source.partition, l.source.offset, l.field, l.code])).toEqual(
        badRows.map(([, field], i) => [topic.topic, 3, String(i + 1), field, 'INGEST_DECODE_FAILED']),
      )
      for (const letter of letters) expect(letter.reason).toMatch(new RegExp(`^column ${letter.field}: expected`))
      const { rows } = await readCommittedRows(lake, 'payments')
      expect(rows.map((r) => [r.id, r.total, r.day])).toEqual([
        [1, '1.05', '2024-01-01'],
        [2, '2.05', '2024-01-01'],
      ])
    })
  }

  it('through the dev broker: a decimal with invalid base64 is a dead letter, not a wrong number', async () => {
    const broker = await testBroker()
    const lake = await tempDir()
    const topic = unique('billing.public.payments')
    await createTopic(broker, topic, 1)
    await produce(broker, topic, envelopes(topic).map((r) => ({ key: r.key, value: r.value })))
    const ingest = await startChangeIngest({
      config: { brokers: [broker.bootstrap], groupId: unique('g'), topics: [{ topic, format: 'debezium', service: 'billing', table: 'payments', key: ['id'] }], flushMaxRows: 100, flushMaxAgeMs: 100 },
      lakeRoot: lake,
      logger: silentLogger,
    })
    onTestFinished(() => ingest.stop())
    await waitFor(() => ingest.stats().rowsLanded === 2 && ingest.stats().deadLetters === badRows.length, { timeoutMs: 30_000, message: 'good rows landed, bad ones quarantined' })
    await ingest.stop()
    const letters = await readLetters(lake)
    expect(letters.map((l) => [l.source.topic, l.source.partition, l.source.offset, l.field])).toEqual(badRows.map(([, field], i) => [topic, 0, String(i + 1), field]))
    expect(letters[0]!.reason).toMatch(/column total: expected decimal bytes \(valid base64\), got "A!ZU="/)
    const { rows } = await readCommittedRows(lake, 'payments')
    expect(rows.map((r) => r.total)).toEqual(['1.05', '2.05'])
  })
})
