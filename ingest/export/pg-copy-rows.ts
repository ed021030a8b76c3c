import { Readable } from 'node:stream'
import type { CsvBatch } from './source-connector.ts'

/** Message codes of the COPY-out flow (PostgreSQL protocol 3). */
const copyData = 0x64 // d
const copyDone = 0x63 // c
const errorResponse = 0x45 // E
/** May arrive between CopyData messages and are skipped (protocol flow, "COPY Operations"). */
const interspersed = new Set([0x48 /* H CopyOutResponse */, 0x4e /* N NoticeResponse */, 0x53 /* S ParameterStatus */, 0x41 /* A NotificationResponse */])

/** The part of pg's Connection this reader uses: its socket and the command it sends. */
interface PgConnection {
  stream: Readable
  query(text: string): void
}

/**
 * `COPY … TO STDOUT` as a pg submittable (`client.query(new CopyRows(sql, cut))`) that yields the rows as
 * batches of `{ data, rows }`. PostgreSQL sends every row as one CopyData message, so the message framing
 * already marks row boundaries and counts rows: no scan of the CSV for quotes and newlines. Each socket read
 * becomes one batch (the payloads moved together in the read's own buffer, framing dropped; a row split
 * between reads is its own small batch); a batch also ends after every `cutEveryRows` rows so a chunk can
 * close exactly there.
 *
 * The socket is taken from pg for the duration of the COPY, as pg-copy-streams does: pg's own parser sees
 * only what follows CopyDone (CommandComplete, ReadyForQuery), or an ErrorResponse, which it reports to this
 * query through handleError.
 */
export class CopyRows extends Readable {
  readonly text: string
  /** Rows counted by the server (CommandComplete), once the COPY finished. */
  serverRowCount: number | undefined
  private connection: PgConnection | undefined
  private pgDataHandler: ((data: Buffer) => void) | undefined
  private readonly onReadable = (): void => this.forward()
  /** Bytes of a message that began in an earlier socket read (kept until it is whole). */
  private carry: Buffer[] = []
  private carryBytes = 0
  private untilCut: number
  private wanted = false
  private forwarding = false
  private detached = false

  constructor(text: string, private readonly cutEveryRows: number) {
    super({ objectMode: true, highWaterMark: 8 })
    this.text = text
    this.untilCut = cutEveryRows
  }

  submit(connection: PgConnection): void {
    this.connection = connection
    const socket = connection.stream
    const listeners = socket.listeners('data') as ((data: Buffer) => void)[]
    if (listeners.length !== 1) throw new Error(`COPY reader expects one data listener on the connection, found ${listeners.length}`)
    this.pgDataHandler = listeners[0]
    socket.removeListener('data', this.pgDataHandler!)
    socket.pause()
    socket.on('readable', this.onReadable)
    connection.query(this.text)
  }

  override _read(): void {
    this.wanted = true
    this.forward()
  }

  private forward(): void {
    if (this.forwarding || !this.wanted || this.detached || !this.connection) return
    this.forwarding = true
    const socket = this.connection.stream
    let chunk: Buffer | null
    while (this.wanted && !this.detached && (chunk = socket.read() as Buffer | null) !== null) {
      this.wanted = this.parse(chunk)
    }
    this.forwarding = false
  }

  /** Hands the socket back to pg with the bytes after the COPY, which pg parses as usual. */
  private detach(rest: Buffer): void {
    if (this.detached) return
    this.detached = true
    const socket = this.connection!.stream
    socket.removeListener('readable', this.onReadable)
    socket.addListener('data', this.pgDataHandler!)
    if (rest.length > 0) this.pgDataHandler!(rest)
    // pg's handler may pause the socket when it hits its high-water mark; resume after it returned.
    process.nextTick(() => socket.resume())
  }

  /** Consumes one socket read; false when the consumer wants no more for now. */
  private parse(input: Buffer): boolean {
    if (this.carryBytes === 0) return this.parseMessages(input, undefined)
    const completed = this.completeCarry(input)
    if (!completed) return true
    const more = this.parseMessages(completed.message, completed.rest)
    if (this.detached || completed.rest.length === 0) return more
    return this.parseMessages(completed.rest, undefined) && more
  }

  /**
   * Parses whole messages of `buf` and keeps an incomplete last one; `tail` follows `buf` on the socket.
   * Rows are compacted in place (each payload moved left over the framing before it, with copyWithin: a
   * memmove without a call into C++ per row), so a batch is a slice of the socket's own buffer.
   */
  private parseMessages(buf: Buffer, tail: Buffer | undefined): boolean {
    const end = buf.length
    let used = 0
    let batchStart = 0
    let rows = 0
    let longest = 0
    let pos = 0
    let more = true
    const flush = (): void => {
      if (rows === 0) return
      more = this.push({ data: buf.subarray(batchStart, used), rows, longestRowBytes: longest } satisfies CsvBatch) && more
      batchStart = used
      rows = 0
      longest = 0
    }
    const handBack = (from: number): void => {
      const rest = buf.subarray(from)
      this.detach(tail && tail.length > 0 ? Buffer.concat([rest, tail]) : rest)
    }
    while (pos + 5 <= end) {
      const code = buf[pos]!
      const messageEnd = pos + 1 + buf.readUInt32BE(pos + 1)
      if (code === copyData) {
        if (messageEnd > end) break
        buf.copyWithin(used, pos + 5, messageEnd)
        const length = messageEnd - pos - 5
        used += length
        if (length > longest) longest = length
        rows++
        pos = messageEnd
        if (--this.untilCut === 0) {
          this.untilCut = this.cutEveryRows
          flush()
        }
        continue
      }
      if (code === errorResponse) {
        // pg parses the error and fails this query through handleError.
        flush()
        handBack(pos)
        return false
      }
      if (messageEnd > end) break
      if (interspersed.has(code)) {
        pos = messageEnd
        continue
      }
      flush()
      // CopyDone ends the rows; anything else unexpected also ends copy-out mode (pg reports it).
      handBack(code === copyDone ? messageEnd : pos)
      this.push(null)
      return false
    }
    flush()
    if (pos < end) this.keep(buf.subarray(pos))
    return more
  }

  private keep(part: Buffer): void {
    this.carry.push(part)
    this.carryBytes += part.length
  }

  /**
   * Adds `input` to the message carried over from earlier reads: the now whole message and the rest of
   * `input` (not copied), or undefined while the message is incomplete. The parts are joined once, when the
   * message is whole: a value of many megabytes spans hundreds of reads, and joining at every read was
   * quadratic (a 40 MB row took 30 s).
   */
  private completeCarry(input: Buffer): { message: Buffer; rest: Buffer } | undefined {
    let from = 0
    if (this.carryBytes < 5) {
      // The length field itself was split: borrow its missing bytes first.
      from = Math.min(5 - this.carryBytes, input.length)
      this.keep(input.subarray(0, from))
      if (this.carryBytes < 5) return undefined
    }
    const head = this.carry[0]!.length >= 5 ? this.carry[0]! : Buffer.concat(this.carry, this.carryBytes)
    const need = 1 + head.readUInt32BE(1) - this.carryBytes
    if (input.length - from < need) {
      this.keep(input.subarray(from))
      return undefined
    }
    const message = Buffer.concat([...this.carry, input.subarray(from, from + need)], this.carryBytes + need)
    this.carry = []
    this.carryBytes = 0
    return { message, rest: input.subarray(from + need) }
  }

  handleError(error: Error): void {
    this.destroy(error)
  }

  handleCommandComplete(message: { text?: string } | undefined): void {
    const match = /COPY (\d+)/.exec(message?.text ?? '')
    if (match) this.serverRowCount = Number(match[1])
  }

  handleReadyForQuery(): void {}
}
