import { describe, expect, it } from 'vitest'
import { crc32c, decodeRecordBatch, encodeRecordBatch, KafkaErrorCode } from '../../dev-broker/index.ts'
import { validateRecordSet } from '../../dev-broker/src/records/record-batch.ts'

const records = [
  { key: Buffer.from('k'), value: Buffer.from('v'), timestamp: 1_700_000_000_000, headers: [{ key: 'h', value: Buffer.from('x') }], offsetDelta: 0 },
  { key: null, value: null, timestamp: 1_700_000_000_005, headers: [], offsetDelta: 1 },
]

describe('record batch codec', () => {
  it('computes CRC-32C check values', () => {
    expect(crc32c(Buffer.from('123456789')).toString(16)).toBe('e3069283')
    expect(crc32c(Buffer.alloc(32))).toBe(0x8a9136aa)
  })

  it.each(['none', 'gzip'] as const)('round-trips records with %s compression', (compression) => {
    const batch = encodeRecordBatch(records, { baseOffset: 10, compression })
    const validation = validateRecordSet(batch)
    expect(validation.ok && validation.batches.map((b) => b.recordCount)).toEqual([2])
    expect(decodeRecordBatch(batch)).toEqual(records.map((r, i) => ({ ...r, offset: 10 + i })))
  })

  it('refuses damaged batches with the matching Kafka error code', () => {
    const batch = encodeRecordBatch(records)
    const flipped = Buffer.from(batch)
    flipped[flipped.length - 1]! ^= 1
    expect(validateRecordSet(flipped)).toMatchObject({ ok: false, errorCode: KafkaErrorCode.CORRUPT_MESSAGE })
    const oldMagic = Buffer.from(batch)
    oldMagic.writeInt8(1, 16)
    expect(validateRecordSet(oldMagic)).toMatchObject({ ok: false, errorCode: KafkaErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT })
    expect(validateRecordSet(batch.subarray(0, 40))).toMatchObject({ ok: false, errorCode: KafkaErrorCode.CORRUPT_MESSAGE })
  })
})
