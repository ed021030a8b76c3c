import { describe, expect, it } from 'vitest'
import type { ChangeRecord } from '../../ingest/changes/change-record.ts'
import { PackedChangeRecord, ReceiptStaging, stagedHead } from '../../ingest/changes/receipt-staging.ts'
import { DebeziumDecoder } from '../../transform/index.ts'
import { orderFields, withoutSchema, withSchema } from './fixtures/envelopes.ts'

/** A record whose key and value are slices of one larger buffer, as kafkajs hands them out of a fetch. */
function record(offset: number, value: string | null, key: string | null = `{"id":${offset}}`): ChangeRecord {
  const fetch = Buffer.from(`xx${key ?? ''}yy${value ?? ''}zz`)
  const keyEnd = 2 + Buffer.byteLength(key ?? '')
  return {
    topic: 't',
    partition: 0,
    offset: String(offset),
    key: key === null ? null : fetch.subarray(2, keyEnd),
    value: value === null ? null : fetch.subarray(keyEnd + 2, fetch.length - 2),
    headers: offset % 2 ? { origin: 'ünïcode' } : {},
    timestamp: String(1_704_067_200_000 + offset),
  }
}

const changes = [
  withSchema(orderFields, { op: 'c', after: { id: 1, status: 'new' } }),
  withSchema(orderFields, { op: 'u', before: { id: 1, status: 'new' }, after: { id: 1, status: 'paid — ✓' } }),
  withSchema(orderFields, { op: 'd', before: { id: 1, status: 'paid' } }),
]

describe('ReceiptStaging (a partition buffer staged on arrival)', () => {
  it('keeps only payloads of known-schema envelopes, rebuilds each envelope exactly, and stages the lines the landing would write', () => {
    const staging = new ReceiptStaging(new DebeziumDecoder())
    const input = [record(0, changes[0]!), record(1, changes[1]!), record(2, null), record(3, changes[2]!), record(4, changes[0]!, null)]
    for (const each of input) staging.add(each)
    expect(staging.records.map((r) => r instanceof PackedChangeRecord)).toEqual([true, true, false, true, true])
    // Values and keys no longer share memory with the fetch they came from, and read back byte for byte.
    staging.records.forEach((r, i) => {
      expect(r.value?.toString()).toBe(input[i]!.value?.toString())
      expect(r.key?.toString()).toBe(input[i]!.key?.toString())
      if (r.value) expect(r.value.buffer).not.toBe(input[i]!.value!.buffer)
      if (r.key) expect(r.key.buffer).not.toBe(input[i]!.key!.buffer)
    })
    const staged = staging.staged()!
    expect(staged).toMatchObject({ rows: 4, tombstones: 1 })
    const lines = Buffer.concat(staged.buffers).toString().split('\n').slice(0, -1)
    expect(lines).toHaveLength(4)
    for (const [i, line] of lines.entries()) {
      const source = [input[0], input[1], input[3], input[4]][i]!
      const payload = JSON.stringify((JSON.parse(source.value!.toString()) as { payload: unknown }).payload)
      expect(line).toBe(`${stagedHead(source)}${payload}}`)
      expect(JSON.parse(line)).toMatchObject({ o: Number(source.offset), h: source.headers })
    }
  })

  it('stages nothing for a batch that cannot be typed in DuckDB as a whole, but keeps every record intact', () => {
    const mixed = new ReceiptStaging(new DebeziumDecoder())
    const other = withSchema([...orderFields, { field: 'note', type: 'string', optional: true }], { op: 'c', after: { id: 2, status: 'x', note: 'n' } })
    const input = [record(0, changes[0]!), record(1, other), record(2, withoutSchema({ op: 'c', after: { id: 3 } })), record(3, changes[1]!)]
    for (const each of input) mixed.add(each)
    expect(mixed.staged()).toBeUndefined()
    expect(mixed.records.map((r) => r.value?.toString())).toEqual(input.map((r) => r.value?.toString()))

    const events = new ReceiptStaging(undefined) // integration events: never staged, only copied out of the fetch
    events.add(record(0, '{"id":"e1","type":"T","payload":{}}'))
    expect(events.staged()).toBeUndefined()
    expect(events.records[0]!.value!.toString()).toBe('{"id":"e1","type":"T","payload":{}}')
    expect(events.heldBytes).toBe(events.wireBytes)
  })
})
