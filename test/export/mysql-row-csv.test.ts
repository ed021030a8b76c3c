import { describe, expect, it } from 'vitest'
import { RowCsvWriter } from '../../ingest/export/mysql-row-csv.ts'
import type { CsvBatch } from '../../ingest/export/source-connector.ts'

type Value = string | Buffer | null

/** A length-encoded string (0xFB: NULL), as the text protocol sends a value. */
function lenenc(value: Value): Buffer {
  if (value === null) return Buffer.from([0xfb])
  const bytes = typeof value === 'string' ? Buffer.from(value) : value
  const n = bytes.length
  const head =
    n < 0xfb ? Buffer.from([n]) : n < 0x10000 ? Buffer.from([0xfc, n & 0xff, n >> 8]) : n < 0x1000000 ? Buffer.from([0xfd, n & 0xff, (n >> 8) & 0xff, n >> 16]) : Buffer.alloc(0)
  return Buffer.concat([head, bytes])
}

/** One row packet: a 4-byte header, then the values. */
function packet(values: Value[]): Buffer {
  const body = Buffer.concat(values.map(lenenc))
  const head = Buffer.alloc(4)
  head.writeUIntLE(body.length, 0, 3)
  return Buffer.concat([head, body])
}

/** What each line must be, written the obvious way: text quoted when empty or holding a quote, comma, LF or CR (as PostgreSQL's CSV does). */
function expected(rows: Value[][], quoted: boolean[]): string {
  return rows
    .map((row) =>
      row
        .map((v, i) => {
          if (v === null) return ''
          const text = typeof v === 'string' ? v : v.toString('latin1')
          return quoted[i] && (text === '' || /[",\n\r]/.test(text)) ? `"${text.replace(/"/g, '""')}"` : text
        })
        .join(','),
    )
    .map((line) => `${line}\n`)
    .join('')
}

/** Feeds the rows as "socket reads" of `perRead` packets each (each read a fresh buffer, as a socket gives). */
function convert(rows: Value[][], quoted: boolean[], perRead: number, workBytes?: number): { text: string; batches: CsvBatch[]; snapshots: string[] } {
  const batches: CsvBatch[] = []
  const writer = new RowCsvWriter(quoted, (b) => batches.push(b), workBytes)
  for (let i = 0; i < rows.length; i += perRead) {
    const packets = rows.slice(i, i + perRead).map(packet)
    // Bytes before and after the packets, as in a read that holds the end of one packet and the start of the next.
    const read = Buffer.concat([Buffer.from([1, 2, 3]), ...packets, Buffer.from([9, 9])])
    let at = 3
    for (const p of packets) {
      expect(writer.append(read, at + 4, at + p.length)).toBe(true)
      at += p.length
    }
    writer.flush()
  }
  // A batch handed over is never written again: copies taken now must still match at the end.
  const snapshots = batches.map((b) => b.data.toString('latin1'))
  return { text: Buffer.concat(batches.map((b) => b.data)).toString('utf8'), batches, snapshots }
}

describe('RowCsvWriter: text-protocol row packets to CSV lines', () => {
  const quoted = [false, true, false, true]

  it('quotes text that needs it (doubling quotes) and the empty string, keeps NULL empty and unquoted, and leaves other values as they are', () => {
    const rows: Value[][] = [
      ['1', 'plain', '12.50', 'x'],
      ['2', 'a "quoted", line\nbreak\r\n', null, '"'],
      ['3', '', '', null],
      [null, null, null, null],
      ['4', 'café ü 🙂 日本', '2024-01-02 03:04:05.123456', '""""'],
      ['5', ',', '-0', 'end "'],
    ]
    const { text } = convert(rows, quoted, 2)
    expect(text).toBe(expected(rows, quoted))
    expect(text).toContain('\n3,"",,\n,,,\n')
    expect(text.startsWith('1,plain,12.50,x\n2,"a ""quoted"", line\nbreak\r\n",,""""\n')).toBe(true)
    expect(text).toContain('\n5,",",-0,"end """\n')
  })

  it('reads 2- and 3-byte length headers, long runs, and rows that grow past their packets (restaging)', () => {
    const long = 'y'.repeat(300)
    const huge = 'z'.repeat(70_000)
    const quotes = '"'.repeat(5_000)
    const rows: Value[][] = []
    for (let i = 0; i < 200; i++) rows.push([String(i), i % 3 ? quotes : 'v', i % 5 ? long : huge, i % 7 ? quotes : null])
    const { text, batches } = convert(rows, quoted, 7, 64 * 1024)
    expect(text).toBe(expected(rows, quoted))
    expect(batches.reduce((n, b) => n + b.rows, 0)).toBe(200)
  })

  it('never writes over a batch already handed over', () => {
    // Rows that need quotes now and then: where each special byte next occurs is searched again as rows pass it.
    const rows: Value[][] = Array.from({ length: 5_000 }, (_, i) => [String(i), i % 5 ? `n${i}` : `n"${i}"`, String(i * 3), ['', 'q', 'a,b', 'c\rd', 'e\nf'][i % 5]!])
    const { batches, snapshots, text } = convert(rows, quoted, 37, 8 * 1024)
    expect(batches.length).toBeGreaterThan(10)
    expect(batches.map((b) => b.data.toString('latin1'))).toEqual(snapshots)
    expect(text).toBe(expected(rows, quoted))
  })

  it('counts rows per batch and hands over nothing when no row was written', () => {
    const batches: CsvBatch[] = []
    const writer = new RowCsvWriter([false], (b) => batches.push(b))
    writer.flush()
    expect(batches).toEqual([])
    const read = Buffer.concat([packet(['1']), packet(['2']), packet(['3'])])
    expect(writer.append(read, 4, 6)).toBe(true)
    expect(writer.append(read, 10, 12)).toBe(true)
    writer.flush()
    expect(writer.append(read, 16, 18)).toBe(true)
    writer.flush()
    expect(batches.map((b) => [b.data.toString(), b.rows])).toEqual([['1\n2\n', 2], ['3\n', 1]])
  })

  it('writes a date with a zero month or day as NULL wherever its column is, and every other date (year 0000 too) as it is', () => {
    const batches: CsvBatch[] = []
    const writer = new RowCsvWriter([false, false, true, false, false], (b) => batches.push(b))
    writer.markTemporal(0, 'date')
    writer.markTemporal(1, 'date')
    writer.markTemporal(4, 'date')
    writer.markTemporal(2, 'date') // a text column stays text
    const rows: Value[][] = [
      ['0000-00-00', '0000-00-00 00:00:00.000000', 'x', '7', '0000-00-00 00:00:00'],
      ['2024-00-15', '2024-02-00 01:02:03', '0000-00-00', '8', '0000-01-15 10:00:00'],
      ['2024-01-10', '2000-10-20 00:00:00.000000', '', '9', '2024-10-01 00:00:00'],
      [null, '0001-01-01 00:00:00', 'a,b', '10', '2024-00-00'],
      ['1000-01-01', '2024-01-00 00:00:00', 'y', '0000', '9999-12-31 23:59:59.999999'],
    ]
    const read = Buffer.concat(rows.map(packet))
    let at = 0
    for (const row of rows) {
      const length = packet(row).length
      expect(writer.append(read, at + 4, at + length)).toBe(true)
      at += length
    }
    writer.flush()
    expect(Buffer.concat(batches.map((b) => b.data)).toString()).toBe(
      [
        ',,x,7,',
        ',,0000-00-00,8,0000-01-15 10:00:00',
        '2024-01-10,2000-10-20 00:00:00.000000,"",9,2024-10-01 00:00:00',
        ',0001-01-01 00:00:00,"a,b",10,',
        '1000-01-01,,y,0000,9999-12-31 23:59:59.999999',
      ].map((line) => `${line}\n`).join(''),
    )
  })

  it('refuses a TIME outside what DuckDB holds (00:00:00 to 24:00:00), saying which column and value', () => {
    for (const [value, ok] of [
      ['00:00:00', true], ['23:59:59.999999', true], ['19:00:00', true], ['24:00:00', true], ['24:00:00.000000', true],
      ['24:00:00.000001', false], ['24:00:01', false], ['25:00:00', false], ['99:59:59', false], ['100:00:00', false],
      ['-00:00:01', false], ['-838:59:59', false], ['838:59:59.000000', false],
    ] as const) {
      const writer = new RowCsvWriter([false, false], () => undefined)
      writer.markTemporal(1, 'time')
      const row = packet(['1', value])
      expect(writer.append(row, 4, row.length), value).toBe(ok)
      expect(writer.outOfDay, value).toEqual(ok ? undefined : { column: 1, value })
    }
  })

  it('refuses a packet that does not hold exactly one value per column', () => {
    const writer = new RowCsvWriter([false, true], () => undefined)
    const two = packet(['1', 'a'])
    const three = packet(['1', 'a', 'b'])
    const one = packet(['1'])
    const cut = packet(['1', 'abcdef'])
    expect(writer.append(three, 4, three.length)).toBe(false)
    expect(writer.append(one, 4, one.length)).toBe(false)
    expect(writer.append(cut, 4, cut.length - 2)).toBe(false)
    expect(writer.append(Buffer.from([0, 0, 0, 0, 0xff, 1]), 4, 6)).toBe(false)
    expect(writer.append(two, 4, two.length)).toBe(true)
  })
})
