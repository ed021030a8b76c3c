import { DevBrokerError } from '../errors/dev-broker-error.ts'

/**
 * Reads Kafka protocol primitives (big-endian ints, int16-prefixed strings, int32-prefixed bytes and
 * arrays, zigzag varints) from one request frame. Every overrun throws MALFORMED_REQUEST so the
 * connection can be dropped instead of answering with garbage.
 */
export class Reader {
  offset: number

  constructor(
    readonly buffer: Buffer,
    offset = 0,
  ) {
    this.offset = offset
  }

  get remaining(): number {
    return this.buffer.length - this.offset
  }

  private need(bytes: number, what: string): void {
    if (bytes < 0 || this.offset + bytes > this.buffer.length) {
      throw new DevBrokerError('MALFORMED_REQUEST', `frame ends inside ${what}`, {
        context: { offset: this.offset, needed: bytes, frameBytes: this.buffer.length },
      })
    }
  }

  int8(): number {
    this.need(1, 'int8')
    return this.buffer.readInt8(this.offset++)
  }

  boolean(): boolean {
    return this.int8() !== 0
  }

  int16(): number {
    this.need(2, 'int16')
    const value = this.buffer.readInt16BE(this.offset)
    this.offset += 2
    return value
  }

  int32(): number {
    this.need(4, 'int32')
    const value = this.buffer.readInt32BE(this.offset)
    this.offset += 4
    return value
  }

  uint32(): number {
    this.need(4, 'uint32')
    const value = this.buffer.readUInt32BE(this.offset)
    this.offset += 4
    return value
  }

  /** Offsets and timestamps fit in a double's 53 bits; producer ids and sentinels (-1, -2) too. */
  int64(): number {
    this.need(8, 'int64')
    const high = this.buffer.readInt32BE(this.offset)
    const low = this.buffer.readUInt32BE(this.offset + 4)
    this.offset += 8
    return high * 0x1_0000_0000 + low
  }

  nullableString(): string | null {
    const length = this.int16()
    if (length < 0) return null
    this.need(length, 'string')
    const value = this.buffer.toString('utf8', this.offset, this.offset + length)
    this.offset += length
    return value
  }

  string(): string {
    const value = this.nullableString()
    if (value === null) {
      throw new DevBrokerError('MALFORMED_REQUEST', 'null where the grammar requires a string', {
        context: { offset: this.offset },
      })
    }
    return value
  }

  /** A view into the frame, not a copy: callers that keep it past the request must copy. */
  nullableBytes(): Buffer | null {
    const length = this.int32()
    if (length < 0) return null
    this.need(length, 'bytes')
    const value = this.buffer.subarray(this.offset, this.offset + length)
    this.offset += length
    return value
  }

  bytes(): Buffer {
    return this.nullableBytes() ?? Buffer.alloc(0)
  }

  nullableArray<T>(readItem: (reader: Reader) => T): T[] | null {
    const count = this.int32()
    if (count < 0) return null
    // Each item takes at least one byte: a larger count is a lie that would make us allocate wildly.
    if (count > this.remaining) {
      throw new DevBrokerError('MALFORMED_REQUEST', 'array count exceeds the frame', {
        context: { offset: this.offset, count, remaining: this.remaining },
      })
    }
    const items = new Array<T>(count)
    for (let i = 0; i < count; i++) items[i] = readItem(this)
    return items
  }

  array<T>(readItem: (reader: Reader) => T): T[] {
    return this.nullableArray(readItem) ?? []
  }

  /** Zigzag varint as used inside v2 records. */
  varint(): number {
    let result = 0
    let shift = 0
    for (;;) {
      this.need(1, 'varint')
      const byte = this.buffer[this.offset++]!
      result |= (byte & 0x7f) << shift
      if ((byte & 0x80) === 0) break
      shift += 7
      if (shift > 28) {
        throw new DevBrokerError('MALFORMED_REQUEST', 'varint longer than 5 bytes', { context: { offset: this.offset } })
      }
    }
    return (result >>> 1) ^ -(result & 1)
  }

  /** Zigzag varlong; values past 2^53 lose precision, which record timestamps and deltas never reach. */
  varlong(): number {
    let result = 0n
    let shift = 0n
    for (;;) {
      this.need(1, 'varlong')
      const byte = this.buffer[this.offset++]!
      result |= BigInt(byte & 0x7f) << shift
      if ((byte & 0x80) === 0) break
      shift += 7n
      if (shift > 63n) {
        throw new DevBrokerError('MALFORMED_REQUEST', 'varlong longer than 10 bytes', { context: { offset: this.offset } })
      }
    }
    return Number((result >> 1n) ^ -(result & 1n))
  }

  skip(bytes: number): void {
    this.need(bytes, 'skipped field')
    this.offset += bytes
  }
}
