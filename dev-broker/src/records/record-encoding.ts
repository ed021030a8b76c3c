import { Reader } from '../protocol/reader.ts'

/**
 * Record (inside a v2 batch):
 *   length: varint
 *   attributes: int8
 *   timestampDelta: varlong
 *   offsetDelta: varint
 *   keyLength: varint             -1 = null key
 *   key: byte[]
 *   valueLen: varint              -1 = null value (tombstone)
 *   value: byte[]
 *   Headers => [Header]           varint count
 *     headerKeyLength: varint
 *     headerKey: String
 *     headerValueLength: varint
 *     Value: byte[]
 */
export interface KafkaRecord {
  key: Buffer | null
  value: Buffer | null
  timestamp: number
  headers: { key: string; value: Buffer | null }[]
  offsetDelta: number
}

/** Walks the length prefixes only: cheap proof that the body holds exactly the records announced. */
export function countRecords(body: Buffer): number {
  const reader = new Reader(body)
  let count = 0
  try {
    while (reader.remaining > 0) {
      const length = reader.varint()
      if (length < 0) return -1
      reader.skip(length)
      count++
    }
  } catch {
    return -1
  }
  return count
}

function varintBytes(value: number): number[] {
  let zigzag = value >= 0 ? value * 2 : -value * 2 - 1
  const out: number[] = []
  while (zigzag >= 0x80) {
    out.push((zigzag % 0x80) | 0x80)
    zigzag = Math.floor(zigzag / 0x80)
  }
  out.push(zigzag)
  return out
}

function sizedBytes(value: Buffer | null): Buffer[] {
  return value === null ? [Buffer.from(varintBytes(-1))] : [Buffer.from(varintBytes(value.length)), value]
}

export function encodeRecords(records: readonly KafkaRecord[], baseTimestamp: number): Buffer {
  const parts: Buffer[] = []
  records.forEach((record, index) => {
    const fields: Buffer[] = [
      Buffer.from([0]),
      Buffer.from(varintBytes(record.timestamp - baseTimestamp)),
      Buffer.from(varintBytes(record.offsetDelta ?? index)),
      ...sizedBytes(record.key),
      ...sizedBytes(record.value),
      Buffer.from(varintBytes(record.headers.length)),
      ...record.headers.flatMap((h) => [...sizedBytes(Buffer.from(h.key)), ...sizedBytes(h.value)]),
    ]
    const body = Buffer.concat(fields)
    parts.push(Buffer.from(varintBytes(body.length)), body)
  })
  return Buffer.concat(parts)
}

function readSized(reader: Reader): Buffer | null {
  const length = reader.varint()
  if (length < 0) return null
  const start = reader.offset
  reader.skip(length)
  return reader.buffer.subarray(start, start + length)
}

export function decodeRecords(body: Buffer, baseTimestamp: number): KafkaRecord[] {
  const reader = new Reader(body)
  const records: KafkaRecord[] = []
  while (reader.remaining > 0) {
    reader.varint()
    reader.int8()
    const timestamp = baseTimestamp + reader.varlong()
    const offsetDelta = reader.varint()
    const key = readSized(reader)
    const value = readSized(reader)
    const headerCount = reader.varint()
    const headers: KafkaRecord['headers'] = []
    for (let i = 0; i < headerCount; i++) {
      const headerKey = readSized(reader)
      headers.push({ key: headerKey?.toString('utf8') ?? '', value: readSized(reader) })
    }
    records.push({ key, value, timestamp, headers, offsetDelta })
  }
  return records
}
