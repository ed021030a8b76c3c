/**
 * Builds a response as a list of buffers. Small fields go into a growing scratch buffer; large raw
 * chunks (stored record batches) are appended by reference so Fetch never copies log data.
 */
export class Writer {
  private readonly chunks: Buffer[] = []
  private buffer: Buffer
  private position = 0
  private flushedBytes = 0

  constructor(initialBytes = 256) {
    this.buffer = Buffer.allocUnsafe(initialBytes)
  }

  get length(): number {
    return this.flushedBytes + this.position
  }

  private ensure(bytes: number): void {
    if (this.position + bytes <= this.buffer.length) return
    this.flush()
    if (bytes <= this.buffer.length) return
    this.buffer = Buffer.allocUnsafe(Math.max(bytes, 4096, Math.min(this.flushedBytes, 1 << 20)))
  }

  private flush(): void {
    if (this.position === 0) return
    this.chunks.push(this.buffer.subarray(0, this.position))
    this.flushedBytes += this.position
    this.buffer = this.buffer.subarray(this.position)
    this.position = 0
  }

  int8(value: number): this {
    this.ensure(1)
    this.buffer.writeInt8(value, this.position)
    this.position += 1
    return this
  }

  boolean(value: boolean): this {
    return this.int8(value ? 1 : 0)
  }

  int16(value: number): this {
    this.ensure(2)
    this.buffer.writeInt16BE(value, this.position)
    this.position += 2
    return this
  }

  int32(value: number): this {
    this.ensure(4)
    this.buffer.writeInt32BE(value, this.position)
    this.position += 4
    return this
  }

  uint32(value: number): this {
    this.ensure(4)
    this.buffer.writeUInt32BE(value, this.position)
    this.position += 4
    return this
  }

  int64(value: number): this {
    this.ensure(8)
    const high = Math.floor(value / 0x1_0000_0000)
    this.buffer.writeInt32BE(high, this.position)
    this.buffer.writeUInt32BE(value - high * 0x1_0000_0000, this.position + 4)
    this.position += 8
    return this
  }

  nullableString(value: string | null): this {
    if (value === null) return this.int16(-1)
    const length = Buffer.byteLength(value)
    this.int16(length)
    this.ensure(length)
    this.buffer.write(value, this.position, 'utf8')
    this.position += length
    return this
  }

  string(value: string): this {
    return this.nullableString(value)
  }

  nullableBytes(value: Buffer | null): this {
    if (value === null) return this.int32(-1)
    this.int32(value.length)
    return this.raw(value)
  }

  bytes(value: Buffer): this {
    return this.nullableBytes(value)
  }

  array<T>(items: readonly T[], writeItem: (writer: this, item: T) => void): this {
    this.int32(items.length)
    for (const item of items) writeItem(this, item)
    return this
  }

  nullableArray<T>(items: readonly T[] | null, writeItem: (writer: this, item: T) => void): this {
    return items === null ? this.int32(-1) : this.array(items, writeItem)
  }

  /** Appends bytes as they are; big ones by reference (they must not change until the write is done). */
  raw(value: Buffer): this {
    if (value.length <= 1024) {
      this.ensure(value.length)
      value.copy(this.buffer, this.position)
      this.position += value.length
      return this
    }
    this.flush()
    this.chunks.push(value)
    this.flushedBytes += value.length
    return this
  }

  toChunks(): Buffer[] {
    this.flush()
    return this.chunks
  }

  toBuffer(): Buffer {
    const chunks = this.toChunks()
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.flushedBytes)
  }
}
