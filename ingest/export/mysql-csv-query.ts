import { Readable } from 'node:stream'
import { ColdpipeError } from '../../core/errors.ts'
import { RowCsvWriter } from './mysql-row-csv.ts'
import type { CsvBatch } from './source-connector.ts'

/** Capability bits (MySQL client/server protocol) that change what this command sends or receives. */
const clientDeprecateEof = 0x01000000
const clientQueryAttributes = 0x08000000
/** Server status flag: another result set follows this one. */
const moreResultsExist = 0x0008
/** Column types (a column definition's type byte) whose text the CSV writer checks: dates, times. */
const dateTypes = new Set([0x07, 0x0a, 0x0c, 0x0e, 0x11, 0x12]) // TIMESTAMP, DATE, DATETIME, NEWDATE, TIMESTAMP2, DATETIME2
const timeTypes = new Set([0x0b, 0x13]) // TIME, TIME2

/** The packet mysql2's PacketParser hands to the current command: one whole packet (header included). */
export interface MysqlPacket {
  buffer: Buffer
  start: number
  end: number
  asError(encoding?: string): Error
}

/** The part of mysql2's Connection this command uses (its command queue, not in mysql2's typings). */
export interface MysqlCommandConnection {
  config: { clientFlags: number }
  serverCapabilityFlags?: number
  clientEncoding?: string
  sequenceId: number
  compressedSequenceId: number
  writePacket(packet: { buffer: Buffer; length(): number; writeHeader(sequenceId: number): void }): void
  addCommand(command: unknown): unknown
  pause(): void
  resume(): void
}

/**
 * `SELECT …` as a mysql2 command (`connection.addCommand(query)`) whose result rows come out as CSV batches
 * of `{ data, rows }`. mysql2 frames the packets (its PacketParser, large packets joined) and queues the
 * command behind the others on the connection; the rows are never parsed into JavaScript values: each row
 * packet's length-encoded strings are written straight into a CSV buffer (mysql-row-csv.ts). A batch ends
 * with each socket read (a microtask after the read's packets), when the buffer is full, and after every
 * `cutEveryRows` rows so a chunk can close exactly there.
 *
 * Failures end the stream with the driver's error (an ERR packet, a lost connection via onResult, a
 * protocol surprise); the caller codes them.
 */
export class MysqlCsvQuery extends Readable {
  private connection: MysqlCommandConnection | undefined
  private state: 'start' | 'header' | 'columns' | 'columnsEof' | 'rows' | 'done' = 'start'
  private columnsLeft = 0
  /** Per TIME column: its table and name, from its column definition, for the error of a value outside a day. */
  private readonly timeColumns = new Map<number, { table: string; column: string }>()
  private deprecateEof = false
  /** Every row arrived: a later failure of the connection is not this read's. */
  private complete = false
  private readonly writer: RowCsvWriter
  private untilCut: number
  private flushQueued = false
  private paused = false
  private readonly flushSoon = (): void => {
    this.flushQueued = false
    this.flush()
  }

  constructor(
    readonly sql: string,
    /** Per column of the SELECT: a text value (quoted in CSV when empty or holding a quote, comma or line break). */
    private readonly quoted: readonly boolean[],
    private readonly cutEveryRows: number,
    /** Turns a driver or protocol error into the error the stream ends with. */
    private readonly codeError: (error: Error) => Error = (error) => error,
  ) {
    super({ objectMode: true, highWaterMark: 8 })
    this.untilCut = cutEveryRows
    this.writer = new RowCsvWriter(quoted, (batch) => this.hand(batch))
  }

  override _read(): void {
    if (!this.paused || !this.connection) return
    this.paused = false
    this.connection.resume()
  }

  /** mysql2: a connection-level failure (lost, reset, closed) while this command is current or queued. */
  onResult(error: Error | null): void {
    if (error) this.fail(error)
  }

  /** Every row arrived (the stream may still hold batches for its reader). */
  get completed(): boolean {
    return this.complete
  }

  /** mysql2: one packet for this command (none on the first call); true once the command is done. */
  execute(packet: MysqlPacket | undefined, connection: MysqlCommandConnection): boolean {
    if (this.state === 'start') return this.start(connection)
    if (!packet) return false
    const buf = packet.buffer
    const pos = packet.start + 4
    const end = packet.end
    const head = buf[pos]
    if (head === 0xff) {
      this.flush()
      this.fail(packet.asError(connection.clientEncoding))
      return this.finish()
    }
    switch (this.state) {
      case 'rows': {
        if (head === 0xfe && (end - pos < 9 || (this.deprecateEof && end - pos < 0xffffff))) return this.endRows(buf, pos, end)
        // Destroyed by its reader: the rows still coming belong to this statement (the owner drops the connection).
        if (this.destroyed) return false
        if (!this.writer.append(buf, pos, end)) {
          if (this.writer.outOfDay) return this.valueError(this.writer.outOfDay)
          return this.protocolError(`a row packet does not hold ${this.quoted.length} values`)
        }
        if (--this.untilCut === 0) {
          this.untilCut = this.cutEveryRows
          this.flush()
        } else if (!this.flushQueued) {
          this.flushQueued = true
          queueMicrotask(this.flushSoon)
        }
        return false
      }
      case 'header': {
        if (head === 0x00) return this.endRows(buf, pos, end) // OK: a statement without a result set
        if (head === 0xfb) return this.protocolError('the server asked for a local file')
        const count = head! < 0xfb ? head! : head === 0xfc ? buf.readUInt16LE(pos + 1) : -1
        if (count !== this.quoted.length) return this.protocolError(`the result has ${count} columns, expected ${this.quoted.length}`)
        this.columnsLeft = count
        this.state = 'columns'
        return false
      }
      case 'columns':
        this.columnDefinition(this.quoted.length - this.columnsLeft, buf, pos, end)
        if (--this.columnsLeft === 0) this.state = this.deprecateEof ? 'rows' : 'columnsEof'
        return false
      case 'columnsEof':
        if (head !== 0xfe) return this.protocolError('expected EOF after the column definitions')
        this.state = 'rows'
        return false
      default:
        return this.finish()
    }
  }

  private start(connection: MysqlCommandConnection): boolean {
    this.connection = connection
    if (this.destroyed) return this.finish()
    const flags = connection.config.clientFlags & (connection.serverCapabilityFlags ?? 0)
    this.deprecateEof = (flags & clientDeprecateEof) !== 0
    // COM_QUERY; with query attributes negotiated, zero parameters in one set come first.
    const header = flags & clientQueryAttributes ? 7 : 5
    const sqlBytes = Buffer.byteLength(this.sql)
    const buffer = Buffer.allocUnsafe(header + sqlBytes)
    buffer[4] = 0x03
    if (header === 7) {
      buffer[5] = 0
      buffer[6] = 1
    }
    buffer.write(this.sql, header, 'utf8')
    connection.sequenceId = 0
    connection.compressedSequenceId = 0
    connection.writePacket({
      buffer,
      length: () => buffer.length,
      writeHeader: (sequenceId: number) => {
        buffer.writeUIntLE(buffer.length - 4, 0, 3)
        buffer[3] = sequenceId
      },
    })
    this.state = 'header'
    return false
  }

  /**
   * Reads a column definition (Protocol::ColumnDefinition41): catalog, schema, table, org_table, name,
   * org_name (length-encoded strings), then 12 bytes of fixed fields with the type. Tells the writer which
   * columns are dates and times. One of another shape is left unmarked: its values go to DuckDB as they
   * are, which refuses a zero date itself (as before), rather than the whole read failing here.
   */
  private columnDefinition(index: number, buf: Buffer, pos: number, end: number): void {
    const strings: [number, number][] = []
    let p = pos
    for (let i = 0; i < 6 && p < end; i++) {
      const head = buf[p]!
      const n = head < 0xfb ? head : head === 0xfc && p + 3 <= end ? buf.readUInt16LE(p + 1) : -1
      if (n < 0) return
      p += head < 0xfb ? 1 : 3
      strings.push([p, p + n])
      p += n
    }
    // The fixed fields end the packet: their length (0x0c), character set (2), column length (4), type, flags
    // (2), decimals, filler (2). Read from the end: MariaDB may put extended metadata before them.
    if (strings.length < 6 || p + 13 > end || buf[end - 13] !== 0x0c) return
    const type = buf[end - 6]!
    if (dateTypes.has(type)) this.writer.markTemporal(index, 'date')
    else if (timeTypes.has(type)) {
      this.writer.markTemporal(index, 'time')
      const text = ([from, to]: [number, number]): string => buf.toString('utf8', from, to)
      this.timeColumns.set(index, { table: text(strings[3]!) || text(strings[2]!), column: text(strings[4]!) })
    }
  }

  /** A TIME value the CSV cannot carry: the read ends with an error naming the column, never retried. */
  private valueError(bad: { column: number; value: string }): boolean {
    this.flush()
    const { table, column } = this.timeColumns.get(bad.column) ?? { table: '', column: `#${bad.column + 1}` }
    const error = new ColdpipeError(
      'EXPORT_VALUE_INVALID',
      `column ${column}: MariaDB/MySQL TIME value '${bad.value}' is outside a day (00:00:00 to 24:00:00), which a Parquet/DuckDB TIME cannot hold; leave the column out with \`columns:\`, or export a view that casts it (e.g. TIME_TO_SEC(${column}) or CAST(${column} AS CHAR))`,
      { context: { ...(table ? { table } : {}), column, value: bad.value, reason: 'time-outside-day' } },
    )
    this.fail(error)
    // Like a protocol error: the statement's remaining rows are not read, so nothing may use the connection.
    return this.finish()
  }

  /** The EOF or OK packet after the last row. */
  private endRows(buf: Buffer, pos: number, end: number): boolean {
    if (moreResults(buf, pos, end)) return this.protocolError('the statement returned more than one result set')
    this.flush()
    this.complete = true
    if (!this.destroyed) this.push(null)
    return this.finish()
  }

  private finish(): boolean {
    this.state = 'done'
    return true
  }

  private protocolError(message: string): boolean {
    this.flush()
    this.fail(Object.assign(new Error(`MariaDB/MySQL protocol: ${message}`), { code: 'PROTOCOL_ERROR' }))
    // The rest of this statement's packets would reach the next command: nothing may use the connection.
    return this.finish()
  }

  /** Ends the stream with `error` (once; not after every row arrived). */
  fail(error: Error): void {
    if (this.complete || this.errored) return
    this.state = 'done'
    this.destroy(this.codeError(error))
  }

  private flush(): void {
    if (!this.destroyed) this.writer.flush()
  }

  private hand(batch: CsvBatch): void {
    if (this.destroyed) return
    // Back-pressure: mysql2 stops reading the socket (and holds the packets it already framed) until _read.
    if (!this.push(batch) && !this.paused) {
      this.paused = true
      this.connection?.pause()
    }
  }
}

/** Whether an EOF or OK packet's status flags say another result set follows. */
function moreResults(buf: Buffer, pos: number, end: number): boolean {
  if (buf[pos] === 0xfe && end - pos < 9) return end - pos >= 5 && (buf.readUInt16LE(pos + 3) & moreResultsExist) !== 0
  // OK (or EOF as OK): header, affected rows and last insert id (length-encoded), then the status flags.
  let p = pos + 1
  for (let i = 0; i < 2; i++) p += lenencBytes(buf[p]!)
  return p + 2 <= end && (buf.readUInt16LE(p) & moreResultsExist) !== 0
}

function lenencBytes(head: number): number {
  return head < 0xfb ? 1 : head === 0xfc ? 3 : head === 0xfd ? 4 : 9
}
