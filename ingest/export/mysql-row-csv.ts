import type { CsvBatch } from './source-connector.ts'

/** The most bytes one CSV line takes for a row packet of `payloadBytes` bytes with `columns` values. */
function rowCsvBound(payloadBytes: number, columns: number): number {
  // Each value at most doubles (every byte a quote) plus 2 quotes; commas and the newline: one per column.
  return 2 * payloadBytes + 3 * columns + 1
}

/** Runs shorter than this are copied byte by byte: a copyWithin call costs about as much as 12 bytes. */
const shortCopy = 12

/**
 * Turns text-protocol row packets (a ProtocolText::ResultsetRow: a length-encoded string per column, 0xFB
 * for NULL) into CSV lines, with PostgreSQL's CSV conventions (what the same read_csv already reads from a
 * Postgres source): NULL is an empty unquoted field; a text (`quoted`) value is written as `"` + its bytes
 * with every `"` doubled + `"` when it is empty (so '' stays apart from NULL) or holds a `"`, comma, LF or
 * CR, and as its bytes otherwise; any other column is its bytes as they are (numbers, dates, hex: none of
 * those bytes in them). Bytes are the server's text in the connection's character set, never decoded.
 * Two temporal exceptions (markTemporal): a zero date, or one with a zero month or day, which a
 * MariaDB/MySQL without NO_ZERO_DATE / NO_ZERO_IN_DATE stores and no DuckDB type holds, is written as NULL
 * (as Debezium does, and JDBC's zeroDateTimeBehavior=convertToNull for zero dates); a TIME outside a day
 * stops the read (`outOfDay`), as DuckDB's TIME cannot hold it and no value may be dropped silently.
 *
 * Why it is built this way: Buffer.copy costs ~80 ns a call on Node 20 and a byte loop ~2 ns a byte, while
 * copyWithin (one buffer) is ~25 ns whatever the length. So each socket read's packets are copied once into
 * a work buffer, ahead of where the CSV is being written, and every line is assembled inside that buffer
 * with copyWithin: a run of values that need no quotes moves as one piece, their one-byte length headers
 * becoming the commas in place (most rows: one copyWithin). The four special bytes are found with indexOf
 * on the source, once per read plus once per occurrence, not by looking at every byte.
 * Batches are slices of the work buffer, which is never written below them again.
 */
export class RowCsvWriter {
  /** The TIME value that made append refuse its row, and its column: outside the day DuckDB's TIME holds. */
  outOfDay: { column: number; value: string } | undefined
  private work: Buffer = Buffer.allocUnsafe(0)
  /** Where the next line goes, and where the batch not yet handed over starts, in `work`. */
  private at = 0
  private longest = 0
  private batchStart = 0
  private rows = 0
  /** The buffer whose bytes are staged in `work`, from `stagedFrom`; a source byte's `work` position is its own + shift. */
  private source: Buffer | undefined
  private stagedFrom = 0
  private shift = 0
  /** Per byte of `special`, where it next occurs in `searched` (-1: search again, -2: nowhere further). */
  private searched: Buffer | undefined
  private readonly next = new Float64Array(4)
  /** Positions of the length headers inside the current run of unquoted values (they become commas). */
  private readonly marks: Int32Array
  /** Per column: how its values are written (`asIs`, `text`, `date`, `time`). */
  private readonly kinds: Uint8Array

  constructor(
    quoted: readonly boolean[],
    private readonly emit: (batch: CsvBatch) => void,
    private readonly workBytes = 1 << 20,
  ) {
    this.marks = new Int32Array(quoted.length)
    this.kinds = Uint8Array.from(quoted, (q) => (q ? text : asIs))
  }

  /** Column `column` holds DATE/DATETIME/TIMESTAMP (`date`: zero parts become NULL) or TIME (`time`: checked to lie within a day). */
  markTemporal(column: number, kind: 'date' | 'time'): void {
    if (this.kinds[column] === asIs) this.kinds[column] = kind === 'date' ? date : time
  }

  /** Hands over the lines written since the last batch (if any) as one batch. */
  flush(): void {
    if (this.rows === 0) return
    const batch: CsvBatch = { data: this.work.subarray(this.batchStart, this.at), rows: this.rows, longestRowBytes: this.longest }
    this.batchStart = this.at
    this.rows = 0
    this.longest = 0
    this.emit(batch)
  }

  /**
   * Appends the row packet payload [pos, end) of `buf` as one CSV line; false when it does not hold exactly
   * one value per column, or holds a TIME outside a day (then `outOfDay` says which).
   */
  append(buf: Buffer, pos: number, end: number): boolean {
    const bound = rowCsvBound(end - pos, this.kinds.length)
    // Staged, and the line (however long) ends before the row's staged bytes begin: nothing unread is overwritten.
    if (buf !== this.source || pos < this.stagedFrom || this.at + bound > pos + this.shift) this.stage(buf, pos, bound)
    const w = this.work
    const kinds = this.kinds
    const marks = this.marks
    const shift = this.shift
    let p = pos + shift
    const e = end + shift
    let o = this.at
    let runFrom = -1
    let runOut = 0
    let marked = 0
    const columns = kinds.length
    for (let c = 0; c < columns; c++) {
      if (p >= e) return false
      const header = p
      const head = w[p++]!
      let length: number
      if (head < 0xfb) length = head
      else if (head === 0xfb) length = 0 // NULL: an empty unquoted field
      else if (head === 0xfc) {
        length = w[p]! | (w[p + 1]! << 8)
        p += 2
      } else if (head === 0xfd) {
        length = w[p]! | (w[p + 1]! << 8) | (w[p + 2]! << 16)
        p += 3
      } else if (head === 0xfe) {
        if (p + 8 > e) return false
        length = w.readUInt32LE(p) + w.readUInt32LE(p + 4) * 2 ** 32
        p += 8
      } else return false
      const stop = p + length
      if (stop > e) return false
      const kind = kinds[c]!
      if (kind >= date && head !== 0xfb && (kind === date ? length >= 10 && zeroDate(w, p) : length >= 8 && !withinDay(w, p, stop))) {
        if (kind === time) {
          this.outOfDay = { column: c, value: w.toString('latin1', p, stop) }
          return false
        }
        // A zero date becomes NULL, an empty field: with its bytes skipped it cannot join a run, and nothing is copied.
        p = stop
      }
      const plain = kind !== text || head === 0xfb || (length > 0 && this.plainText(buf, p - shift, stop - shift))
      if (plain && p === header + 1) {
        // Joins the run: the header byte turns into this value's comma (the first value has none).
        if (runFrom < 0) {
          runOut = o
          runFrom = c === 0 ? p : header
        }
        if (c > 0) marks[marked++] = header
        p = stop
        continue
      }
      if (runFrom >= 0) {
        o = moveRun(w, runFrom, header, runOut, marks, marked)
        runFrom = -1
        marked = 0
      }
      if (c > 0) w[o++] = 0x2c // ,
      if (plain) {
        o = move(w, p, stop, o)
      } else {
        w[o++] = 0x22
        for (let q = p; q < stop; q++) {
          const b = w[q]!
          w[o++] = b
          if (b === 0x22) w[o++] = 0x22
        }
        w[o++] = 0x22
      }
      p = stop
    }
    if (p !== e) return false
    if (runFrom >= 0) o = moveRun(w, runFrom, e, runOut, marks, marked)
    w[o++] = 0x0a // \n
    if (o - this.at > this.longest) this.longest = o - this.at
    this.at = o
    this.rows++
    return true
  }

  /** Copies `buf` from `pos` to its end into `work`, far enough ahead of the next line. */
  private stage(buf: Buffer, pos: number, bound: number): void {
    const rest = buf.length - pos
    // The gap lets the lines of the staged rows grow to about twice their packets before a restage.
    let stageAt = this.at + bound + rest
    if (stageAt + rest > this.work.length) {
      this.flush()
      this.work = Buffer.allocUnsafe(Math.max(this.workBytes, 2 * (bound + 2 * rest)))
      this.at = 0
      this.batchStart = 0
      stageAt = bound + rest
    }
    buf.copy(this.work, stageAt, pos)
    this.source = buf
    this.stagedFrom = pos
    this.shift = stageAt - pos
  }

  /** Whether the text in source bytes [from, to) may go unquoted: no `"`, comma, LF or CR in it. */
  private plainText(buf: Buffer, from: number, to: number): boolean {
    if (buf !== this.searched) {
      this.searched = buf
      this.next.fill(-1)
    }
    const next = this.next
    for (let i = 0; i < 4; i++) {
      let at = next[i]!
      // -1: not searched from here yet; past the end of the buffer: none further.
      if (at < from) next[i] = at = at === -2 ? -2 : searchFrom(buf, special[i]!, from)
      if (at >= 0 && at < to) return false
    }
    return true
  }
}

/** Column kinds: values copied as they are, text (quoted when needed), DATE/DATETIME/TIMESTAMP, TIME. */
const asIs = 0
const text = 1
const date = 2
const time = 3

/**
 * Whether the date at `p` ('YYYY-MM-DD…', as the server writes DATE, DATETIME and TIMESTAMP) has a zero
 * month or day. Each test fails on its first byte for almost every real date (its last digit). Year 0000 with
 * a real month and day is a date of the proleptic calendar (DuckDB: 1 BC) and is kept.
 */
function zeroDate(w: Buffer, p: number): boolean {
  return (w[p + 9] === 0x30 && w[p + 8] === 0x30) || (w[p + 6] === 0x30 && w[p + 5] === 0x30)
}

/**
 * Whether the TIME text [p, stop) ('HH:MM:SS[.ffffff]', or '-HH…' and 'HHH:…' outside a day) is one
 * DuckDB's TIME reads: 00:00:00 to 23:59:59.999999, and 24:00:00 exactly (which DuckDB also takes).
 */
function withinDay(w: Buffer, p: number, stop: number): boolean {
  const h = w[p]!
  if (h < 0x32) return h >= 0x30 && w[p + 2] === 0x3a
  if (h > 0x32 || w[p + 2] !== 0x3a) return false
  const h2 = w[p + 1]!
  if (h2 < 0x34) return true
  if (h2 > 0x34) return false
  for (let q = p + 3; q < stop; q++) if (w[q] !== 0x30 && w[q] !== 0x3a && w[q] !== 0x2e) return false
  return true
}

/** Bytes that make a text value need quotes: `"`, comma, LF, CR (never part of a multi-byte UTF-8 character). */
const special = [0x22, 0x2c, 0x0a, 0x0d]

function searchFrom(buf: Buffer, byte: number, from: number): number {
  const at = buf.indexOf(byte, from)
  return at < 0 ? -2 : at
}

/** Moves [from, to) of `w` down to `out` (out <= from); returns the end. */
function move(w: Buffer, from: number, to: number, out: number): number {
  if (to - from < shortCopy) {
    for (let q = from; q < to; q++) w[out++] = w[q]!
    return out
  }
  w.copyWithin(out, from, to)
  return out + (to - from)
}

/** Moves a run of unquoted values and writes a comma where each of its length headers was. */
function moveRun(w: Buffer, from: number, to: number, out: number, marks: Int32Array, marked: number): number {
  const end = move(w, from, to, out)
  const delta = out - from
  for (let i = 0; i < marked; i++) w[marks[i]! + delta] = 0x2c
  return end
}
