import { describe, expect, it } from 'vitest'
import {
  DebeziumDecoder,
  DecodeError,
  decodeDecimalBytes,
  decodeIntegrationEvent,
  epochDaysToDate,
  epochToTimestamp,
  typeChangeBatch,
  typeConnectField,
  widenType,
  type DecodedChange,
  type RecordCoordinates,
} from '../../transform/index.ts'
import { decimalBytes, mysqlChange, orderFields, withoutSchema, withSchema } from './fixtures/envelopes.ts'

const at = (offset: number): RecordCoordinates => ({ topic: 't', partition: 0, offset: String(offset), key: null, timestampMs: 0, headers: {} })

describe('Debezium connect types', () => {
  it('decodes decimal bytes exactly, including negatives and large values', () => {
    expect(decodeDecimalBytes(decimalBytes(12345n), 2)).toBe('123.45')
    expect(decodeDecimalBytes(decimalBytes(-12345n), 2)).toBe('-123.45')
    expect(decodeDecimalBytes(decimalBytes(-1n), 2)).toBe('-0.01')
    expect(decodeDecimalBytes(decimalBytes(128n), 0)).toBe('128')
    expect(decodeDecimalBytes(decimalBytes(123456789012345678901234567890n), 10)).toBe('12345678901234567890.1234567890')
    // Debezium's own example: 'AZU=' is 405 → 4.05 at scale 2
    expect(decodeDecimalBytes('AZU=', 2)).toBe('4.05')
  })

  it('converts dates, micro and nano timestamps without losing digits', () => {
    expect(epochDaysToDate(0)).toBe('1970-01-01')
    expect(epochDaysToDate(19_723)).toBe('2024-01-01')
    expect(epochDaysToDate(-1)).toBe('1969-12-31')
    expect(epochToTimestamp(1_704_067_200_123_456n, 1_000_000n, 6)).toBe('2024-01-01 00:00:00.123456')
    expect(epochToTimestamp(-1n, 1_000_000n, 6)).toBe('1969-12-31 23:59:59.999999')
    expect(epochToTimestamp(1_704_067_200_123_456_789n, 1_000_000_000n, 9)).toBe('2024-01-01 00:00:00.123456789')
  })

  it('maps connect schemas to DuckDB types', () => {
    const type = (schema: object) => typeConnectField({ field: 'x', ...schema } as never).spec.type
    expect(type({ type: 'bytes', name: 'org.apache.kafka.connect.data.Decimal', parameters: { scale: '2', 'connect.decimal.precision': '10' } })).toBe('DECIMAL(10,2)')
    expect(type({ type: 'bytes', name: 'org.apache.kafka.connect.data.Decimal', parameters: { scale: '4' } })).toBe('DECIMAL(38,4)')
    expect(type({ type: 'struct', name: 'io.debezium.data.VariableScaleDecimal' })).toBe('VARCHAR')
    expect(type({ type: 'int32', name: 'io.debezium.time.Date' })).toBe('DATE')
    expect(type({ type: 'int64', name: 'io.debezium.time.MicroTimestamp' })).toBe('TIMESTAMP')
    expect(type({ type: 'int64', name: 'io.debezium.time.NanoTimestamp' })).toBe('TIMESTAMP_NS')
    expect(type({ type: 'string', name: 'io.debezium.time.ZonedTimestamp' })).toBe('TIMESTAMPTZ')
    expect(type({ type: 'string', name: 'io.debezium.data.Json' })).toBe('JSON')
    expect(type({ type: 'string', name: 'io.debezium.data.Uuid' })).toBe('UUID')
    expect(type({ type: 'int16' })).toBe('SMALLINT')
    expect(type({ type: 'float64' })).toBe('DOUBLE')
    // decimal.handling.mode=string / double
    expect(type({ type: 'string' })).toBe('VARCHAR')
    expect(type({ type: 'string', parameters: { '__debezium.source.column.type': 'NUMERIC', '__debezium.source.column.length': '12', '__debezium.source.column.scale': '2' } })).toBe('DECIMAL(12,2)')
    const variable = typeConnectField({ field: 'v', type: 'struct', name: 'io.debezium.data.VariableScaleDecimal' })
    expect(variable.convert({ scale: 3, value: decimalBytes(-1500n) })).toBe('-1.500')
  })

  it('widens inferred types and refuses conflicts', () => {
    expect(widenType('INTEGER', 'BIGINT')).toBe('BIGINT')
    expect(widenType('BIGINT', 'DOUBLE')).toBe('DOUBLE')
    expect(widenType('BOOLEAN', 'VARCHAR')).toBe('VARCHAR')
    expect(widenType('JSON', 'VARCHAR')).toBe('VARCHAR')
    expect(widenType('BOOLEAN', 'INTEGER')).toBeUndefined()
    expect(widenType('JSON', 'BIGINT')).toBeUndefined()
    expect(widenType('DECIMAL(10,2)', 'DECIMAL(12,4)')).toBe('DECIMAL(12,4)')
  })
})

describe('DebeziumDecoder', () => {
  const after = { id: 1, status: 'submitted', total: decimalBytes(12345n), order_date: 19_723, updated_at: 1_704_067_200_123_456, paid_at: null, attrs: '{"a":1}', ref: null, big: 5, gift: false, blob: null }

  it('unwraps schema/payload envelopes and types the row from the schema', () => {
    const decoder = new DebeziumDecoder()
    for (let i = 0; i < 2; i++) {
      // Second pass goes through the cached-schema fast path.
      const change = decoder.decode(withSchema(orderFields, { op: 'c', after, lsn: 33_816_152, txId: 771 })) as DecodedChange
      expect(change.kind).toBe('change')
      expect(change.op).toBe('c')
      expect(change.sourcePos).toBe('00000000000033816152')
      expect(change.txId).toBe('771')
      expect(change.tsMs).toBe(1_700_000_000_000)
      expect(change.fields?.map((f) => f.spec.type)).toEqual(['INTEGER', 'VARCHAR', 'DECIMAL(12,2)', 'DATE', 'TIMESTAMP', 'TIMESTAMPTZ', 'JSON', 'UUID', 'BIGINT', 'BOOLEAN', 'BLOB'])
    }
  })

  it('handles deletes (before), truncates, tombstones and MySQL positions', () => {
    const decoder = new DebeziumDecoder()
    const del = decoder.decode(withoutSchema({ op: 'd', before: { id: 7 } })) as DecodedChange
    expect(del.row).toEqual({ id: 7 })
    const truncate = decoder.decode(withoutSchema({ op: 't' })) as DecodedChange
    expect(truncate.op).toBe('t')
    expect(truncate.row).toBeNull()
    expect(decoder.decode(null)).toEqual({ kind: 'tombstone' })
    const mysql = decoder.decode(mysqlChange({ op: 'u', after: { id: 1 }, file: 'mysql-bin.000003', pos: 154 })) as DecodedChange
    expect(mysql.sourcePos).toBe('mysql-bin.000003:00000000000000000154')
    expect(mysql.txId).toBe('tx-42')
  })

  it('rejects what is not a change envelope with a reason', () => {
    const decoder = new DebeziumDecoder()
    expect(() => decoder.decode('{not json')).toThrow(DecodeError)
    expect(() => decoder.decode('{"hello":1}')).toThrow(/no payload.op/)
    expect(() => decoder.decode('{"op":"x","after":{}}')).toThrow(/unknown op/)
    expect(() => decoder.decode('[1]')).toThrow(/not a JSON object/)
    expect(() => decoder.decode('{"op":"c","after":null}')).toThrow(/no after row/)
  })
})

describe('integration events', () => {
  it('accepts common spellings and falls back to the record time', () => {
    const a = decodeIntegrationEvent(JSON.stringify({ eventId: 'e1', eventType: 'PriceChanged', occurred_at: '2024-05-01T10:00:00Z', payload: { p: 1 } }), '2000-01-01T00:00:00.000Z')
    expect(a).toEqual({ kind: 'event', eventId: 'e1', eventType: 'PriceChanged', occurredAt: '2024-05-01T10:00:00Z', payload: { p: 1 } })
    const b = decodeIntegrationEvent(JSON.stringify({ Id: 5, type: 'X', timestamp: 1_714_557_600_000, orderId: 9 }), '2000-01-01T00:00:00.000Z')
    expect(b.eventId).toBe('5')
    expect(b.occurredAt).toBe('2024-05-01T10:00:00.000Z')
    expect(b.payload).toEqual({ orderId: 9 })
    const c = decodeIntegrationEvent(JSON.stringify({ id: 'x', type: 'T' }), '2000-01-01T00:00:00.000Z')
    expect(c.occurredAt).toBe('2000-01-01T00:00:00.000Z')
    expect(() => decodeIntegrationEvent(JSON.stringify({ type: 'T' }), '')).toThrow(/no id/)
    expect(() => decodeIntegrationEvent(JSON.stringify({ id: 1, type: 'T', occurredAt: 'yesterday' }), '')).toThrow(/not a date-time/)
  })
})

describe('typeChangeBatch', () => {
  it('infers schema-less columns, widens against known types and rejects conflicts', () => {
    const decoder = new DebeziumDecoder()
    const change = (row: Record<string, unknown>) => decoder.decode(withoutSchema({ op: 'c', after: row })) as DecodedChange
    const batch = typeChangeBatch(
      [
        { change: change({ id: 1, qty: 2, flag: true }), at: at(0) },
        { change: change({ id: 2, qty: 5_000_000_000, flag: false, note: 'new' }), at: at(1) },
        { change: change({ id: 3, qty: 1, flag: 12 }), at: at(2) },
      ],
      { id: 'INTEGER' },
    )
    expect(batch.rejected).toEqual([{ index: 2, reason: expect.stringMatching(/column flag is BOOLEAN/) }])
    expect(batch.columns.slice(0, 4)).toEqual([
      { name: 'id', type: 'INTEGER' },
      { name: 'qty', type: 'BIGINT' },
      { name: 'flag', type: 'BOOLEAN' },
      { name: 'note', type: 'VARCHAR' },
    ])
    expect(batch.rows).toHaveLength(2)
    expect(batch.tableTypes).toMatchObject({ id: 'INTEGER', qty: 'BIGINT', flag: 'BOOLEAN', note: 'VARCHAR' })
  })

  it('turns numbers into text when a column has widened to VARCHAR', () => {
    const decoder = new DebeziumDecoder()
    const change = (row: Record<string, unknown>) => decoder.decode(withoutSchema({ op: 'c', after: row })) as DecodedChange
    const batch = typeChangeBatch([{ change: change({ code: 12 }), at: at(0) }], { code: 'VARCHAR' })
    expect(batch.rows[0]!.code).toBe('12')
  })
})
