import { gunzipSync, gzipSync } from 'node:zlib'
import { KafkaErrorCode } from '../errors/kafka-error-code.ts'
import { crc32c } from './crc32c.ts'
import { countRecords, encodeRecords, decodeRecords, type KafkaRecord } from './record-encoding.ts'

/**
 * RecordBatch (magic 2), from the protocol guide:
 *
 *   baseOffset: int64
 *   batchLength: int32              bytes after this field
 *   partitionLeaderEpoch: int32
 *   magic: int8                     (current magic value is 2)
 *   crc: uint32                     CRC-32C from attributes to the end of the batch
 *   attributes: int16               bit 0~2 compression (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd),
 *                                   bit 3 timestampType, bit 4 isTransactional, bit 5 isControlBatch
 *   lastOffsetDelta: int32
 *   baseTimestamp: int64
 *   maxTimestamp: int64
 *   producerId: int64
 *   producerEpoch: int16
 *   baseSequence: int32
 *   records: [Record]               int32 count, then records (compressed as one block if compressed)
 *
 * baseOffset and partitionLeaderEpoch lie before the CRC'd range, so the broker can assign offsets by
 * rewriting them in place and the producer's CRC stays valid: the batch goes out to consumers as-is.
 */
export const BATCH_HEADER_BYTES = 61
const LOG_OVERHEAD = 12 // baseOffset + batchLength
const CRC_START = 21 // first byte of attributes
const COMPRESSION_MASK = 0x07
const TRANSACTIONAL_FLAG = 0x10
const CONTROL_FLAG = 0x20

export const Compression = { none: 0, gzip: 1 } as const
export type CompressionName = keyof typeof Compression

export interface BatchInfo {
  /** A private copy of the batch bytes (so the request frame can be freed). */
  buffer: Buffer
  recordCount: number
  maxTimestamp: number
  producerId: number
  producerEpoch: number
  baseSequence: number
}

export type BatchValidation = { ok: true; batches: BatchInfo[] } | { ok: false; errorCode: KafkaErrorCode; reason: string }

function reject(errorCode: KafkaErrorCode, reason: string): BatchValidation {
  return { ok: false, errorCode, reason }
}

/** Checks every batch of a produced record set the way a broker must before appending it. */
export function validateRecordSet(recordSet: Buffer | null): BatchValidation {
  if (recordSet === null || recordSet.length === 0) return reject(KafkaErrorCode.CORRUPT_MESSAGE, 'empty record set')
  const batches: BatchInfo[] = []
  let position = 0
  while (position < recordSet.length) {
    if (recordSet.length - position < BATCH_HEADER_BYTES) {
      return reject(KafkaErrorCode.CORRUPT_MESSAGE, 'record set ends inside a batch header')
    }
    const batchLength = recordSet.readInt32BE(position + 8)
    const end = position + LOG_OVERHEAD + batchLength
    if (batchLength < BATCH_HEADER_BYTES - LOG_OVERHEAD || end > recordSet.length) {
      return reject(KafkaErrorCode.CORRUPT_MESSAGE, `batch length ${batchLength} does not fit the record set`)
    }
    const magic = recordSet.readInt8(position + 16)
    if (magic !== 2) return reject(KafkaErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT, `magic ${magic}, only 2 is supported`)
    const expectedCrc = recordSet.readUInt32BE(position + 17)
    const actualCrc = crc32c(recordSet, position + CRC_START, end)
    if (expectedCrc !== actualCrc) return reject(KafkaErrorCode.CORRUPT_MESSAGE, 'CRC-32C mismatch')
    const attributes = recordSet.readInt16BE(position + 21)
    if (attributes & (TRANSACTIONAL_FLAG | CONTROL_FLAG)) {
      return reject(KafkaErrorCode.INVALID_REQUEST, 'transactional and control batches are not supported')
    }
    const compression = attributes & COMPRESSION_MASK
    if (compression !== Compression.none && compression !== Compression.gzip) {
      return reject(KafkaErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `compression codec ${compression}`)
    }
    const recordCount = recordSet.readInt32BE(position + 57)
    const lastOffsetDelta = recordSet.readInt32BE(position + 23)
    if (recordCount < 1 || recordCount !== lastOffsetDelta + 1) {
      return reject(KafkaErrorCode.CORRUPT_MESSAGE, `record count ${recordCount} with lastOffsetDelta ${lastOffsetDelta}`)
    }
    const body = recordSet.subarray(position + BATCH_HEADER_BYTES, end)
    const records = compression === Compression.gzip ? gunzipOrNull(body) : body
    if (records === null || countRecords(records) !== recordCount) {
      return reject(KafkaErrorCode.CORRUPT_MESSAGE, 'records do not match the batch header')
    }
    batches.push({
      buffer: ownBatch(recordSet.subarray(position, end)),
      recordCount,
      maxTimestamp: Number(recordSet.readBigInt64BE(position + 35)),
      producerId: Number(recordSet.readBigInt64BE(position + 43)),
      producerEpoch: recordSet.readInt16BE(position + 51),
      baseSequence: recordSet.readInt32BE(position + 53),
    })
    position = end
  }
  return { ok: true, batches }
}

/**
 * The log keeps batches for a long time: a view that fills most of its backing memory (one large
 * produce frame) is kept as is, but a small one is copied so it does not pin a whole socket chunk.
 */
function ownBatch(view: Buffer): Buffer {
  return view.length * 2 >= view.buffer.byteLength ? view : Buffer.from(view)
}

function gunzipOrNull(body: Buffer): Buffer | null {
  try {
    return gunzipSync(body)
  } catch {
    return null
  }
}

/** Assigns the batch its place in the log; outside the CRC'd range, so no checksum work. */
export function stampBatch(batch: Buffer, baseOffset: number): void {
  batch.writeBigInt64BE(BigInt(baseOffset), 0)
  batch.writeInt32BE(0, 12)
}

export function batchBaseOffset(batch: Buffer, at = 0): number {
  return Number(batch.readBigInt64BE(at))
}

/** Bytes of the batch starting at `at` (header included), or -1 when the buffer ends first. */
export function batchSizeAt(buffer: Buffer, at: number): number {
  if (buffer.length - at < LOG_OVERHEAD) return -1
  const size = LOG_OVERHEAD + buffer.readInt32BE(at + 8)
  return at + size <= buffer.length && size >= BATCH_HEADER_BYTES ? size : -1
}

export function batchRecordCount(batch: Buffer): number {
  return batch.readInt32BE(23) + 1
}

export function batchMaxTimestamp(batch: Buffer): number {
  return Number(batch.readBigInt64BE(35))
}

export interface EncodeBatchOptions {
  baseOffset?: number
  compression?: CompressionName
  producerId?: number
  producerEpoch?: number
  baseSequence?: number
}

/** Builds a batch with a correct CRC; used by tests and tools that speak to the broker directly. */
export function encodeRecordBatch(records: readonly KafkaRecord[], options: EncodeBatchOptions = {}): Buffer {
  const baseTimestamp = records.reduce((min, r) => Math.min(min, r.timestamp), Number.MAX_SAFE_INTEGER)
  const maxTimestamp = records.reduce((max, r) => Math.max(max, r.timestamp), -1)
  const plain = encodeRecords(records, baseTimestamp)
  const compression = options.compression ?? 'none'
  const body = compression === 'gzip' ? gzipSync(plain) : plain
  const batch = Buffer.alloc(BATCH_HEADER_BYTES + body.length)
  batch.writeBigInt64BE(BigInt(options.baseOffset ?? 0), 0)
  batch.writeInt32BE(batch.length - LOG_OVERHEAD, 8)
  batch.writeInt32BE(0, 12)
  batch.writeInt8(2, 16)
  batch.writeInt16BE(Compression[compression], 21)
  batch.writeInt32BE(records.length - 1, 23)
  batch.writeBigInt64BE(BigInt(records.length ? baseTimestamp : -1), 27)
  batch.writeBigInt64BE(BigInt(maxTimestamp), 35)
  batch.writeBigInt64BE(BigInt(options.producerId ?? -1), 43)
  batch.writeInt16BE(options.producerEpoch ?? -1, 51)
  batch.writeInt32BE(options.baseSequence ?? -1, 53)
  batch.writeInt32BE(records.length, 57)
  body.copy(batch, BATCH_HEADER_BYTES)
  batch.writeUInt32BE(crc32c(batch, CRC_START), 17)
  return batch
}

export type { KafkaRecord }

export interface DecodedRecord extends KafkaRecord {
  offset: number
}

/** Reads every record of one batch back (checking its CRC); for tests and debugging, not the hot path. */
export function decodeRecordBatch(batch: Buffer): DecodedRecord[] {
  if (crc32c(batch, CRC_START, LOG_OVERHEAD + batch.readInt32BE(8)) !== batch.readUInt32BE(17)) {
    throw new RangeError('record batch CRC-32C mismatch')
  }
  const baseOffset = batchBaseOffset(batch)
  const baseTimestamp = Number(batch.readBigInt64BE(27))
  const compression = batch.readInt16BE(21) & COMPRESSION_MASK
  const body = batch.subarray(BATCH_HEADER_BYTES, LOG_OVERHEAD + batch.readInt32BE(8))
  const plain = compression === Compression.gzip ? gunzipSync(body) : body
  return decodeRecords(plain, baseTimestamp).map((r) => ({ ...r, offset: baseOffset + r.offsetDelta }))
}
