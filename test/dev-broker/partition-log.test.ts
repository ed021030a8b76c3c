import { describe, expect, it } from 'vitest'
import { encodeRecordBatch, KafkaErrorCode } from '../../dev-broker/index.ts'
import { PartitionLog } from '../../dev-broker/src/log/partition-log.ts'
import { batchBaseOffset, validateRecordSet, type BatchInfo } from '../../dev-broker/src/records/record-batch.ts'

function batch(count: number, options: { producerId?: number; baseSequence?: number; bytes?: number } = {}): BatchInfo {
  const value = Buffer.alloc(options.bytes ?? 10, 1)
  const records = Array.from({ length: count }, (_, i) => ({ key: null, value, timestamp: 1000 + i, headers: [], offsetDelta: i }))
  const encoded = encodeRecordBatch(records, { producerId: options.producerId ?? -1, producerEpoch: 0, baseSequence: options.baseSequence ?? -1 })
  const validation = validateRecordSet(encoded)
  if (!validation.ok) throw new Error(validation.reason)
  return validation.batches[0]!
}

describe('partition log', () => {
  it('assigns offsets and finds the batch holding any offset', () => {
    const log = new PartitionLog('t', 0, 1 << 20, null)
    for (let i = 0; i < 100; i++) log.append(batch(3))
    expect(log.highWatermark).toBe(300)
    const read = log.read(151, 1)
    expect(read.batches.map((b) => batchBaseOffset(b))).toEqual([150])
    expect(log.read(0, 10_000).batches.length).toBeGreaterThan(1)
    expect(log.read(300, 10_000).batches).toEqual([])
  })

  it('answers a retried idempotent batch with its first offset and refuses a sequence gap', () => {
    const log = new PartitionLog('t', 0, 1 << 20, null)
    expect(log.append(batch(2, { producerId: 7, baseSequence: 0 }))).toEqual({ errorCode: 0, baseOffset: 0 })
    expect(log.append(batch(2, { producerId: 7, baseSequence: 2 }))).toEqual({ errorCode: 0, baseOffset: 2 })
    expect(log.append(batch(2, { producerId: 7, baseSequence: 0 }))).toEqual({ errorCode: 0, baseOffset: 0 })
    expect(log.highWatermark).toBe(4)
    expect(log.append(batch(1, { producerId: 7, baseSequence: 9 })).errorCode).toBe(KafkaErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
  })

  it('drops whole batches from the head beyond the retention budget', () => {
    const log = new PartitionLog('t', 0, 10_000, null)
    for (let i = 0; i < 20; i++) log.append(batch(1, { bytes: 1000 }))
    expect(log.sizeBytes).toBeLessThanOrEqual(10_000)
    expect(log.logStartOffset).toBeGreaterThan(0)
    expect(log.validOffset(0)).toBe(false)
    expect(batchBaseOffset(log.read(log.logStartOffset, 1).batches[0]!)).toBe(log.logStartOffset)
  })
})
