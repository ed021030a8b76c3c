import { PassThrough } from 'node:stream'
import { describe, expect, it, vi } from 'vitest'
import { waitFor } from '../helpers/wait-for.ts'
import { CopyRows } from '../../ingest/export/pg-copy-rows.ts'
import type { CsvBatch } from '../../ingest/export/source-connector.ts'

// The COPY-out flow as PostgreSQL frames it (protocol 3): these bytes are what the server sends; the real
// server is exercised by the export tests, this pins every way a socket read can split them.
function message(code: string, body: Buffer | string = ''): Buffer {
  const payload = Buffer.isBuffer(body) ? body : Buffer.from(body)
  const head = Buffer.alloc(5)
  head.write(code, 0, 'latin1')
  head.writeUInt32BE(payload.length + 4, 1)
  return Buffer.concat([head, payload])
}

const rows = ['1,"a, ""b"""\n', '2,"line\nbreak"\n', '3,\n', '4,""\n', 'x'.repeat(300) + '\n', '6,z\n', '7,"q"\n']
const copyOut = message('H', Buffer.from([0, 0, 2, 0, 0, 0, 0]))
const after = Buffer.concat([message('C', 'COPY 7\0'), message('Z', 'T')])
const stream = Buffer.concat([
  copyOut,
  message('d', rows[0]!),
  message('N', 'a notice\0'),
  ...rows.slice(1).map((r) => message('d', r)),
  message('c'),
  after,
])

/** Feeds `chunks` through a stand-in of pg's connection; returns the batches and what was handed back to pg. */
async function run(chunks: Buffer[], cutEveryRows: number): Promise<{ batches: CsvBatch[]; handedBack: Buffer }> {
  const socket = new PassThrough()
  const handedBack: Buffer[] = []
  socket.on('data', (d: Buffer) => handedBack.push(d))
  const copy = new CopyRows('COPY x TO STDOUT', cutEveryRows)
  copy.submit({ stream: socket, query: () => undefined })
  for (const chunk of chunks) socket.write(chunk)
  const batches: CsvBatch[] = []
  for await (const batch of copy as AsyncIterable<CsvBatch>) batches.push(batch)
  // pg's handler gets the rest once the COPY is done (after a tick: the socket resumes then).
  await new Promise((resolve) => setImmediate(resolve))
  return { batches, handedBack: Buffer.concat(handedBack) }
}

describe('CopyRows (COPY framing to row batches)', () => {
  it('reassembles the rows, counts them and cuts after every N, wherever the socket splits the messages', async () => {
    for (const size of [1, 2, 3, 4, 5, 6, 7, 11, 64, 301, stream.length]) {
      const chunks = Array.from({ length: Math.ceil(stream.length / size) }, (_, i) => Buffer.from(stream.subarray(i * size, (i + 1) * size)))
      const { batches, handedBack } = await run(chunks, 3)
      expect(batches.map((b) => b.data.toString()).join(''), `split every ${size}`).toBe(rows.join(''))
      let seen = 0
      for (const batch of batches) {
        expect(batch.data.toString(), `split every ${size}`).toBe(rows.slice(seen, seen + batch.rows).join(''))
        // No batch straddles a multiple of 3 rows.
        expect(Math.floor(seen / 3), `split every ${size}`).toBe(Math.floor((seen + batch.rows - 1) / 3))
        seen += batch.rows
      }
      expect(seen).toBe(7)
      // What follows CopyDone goes back to pg untouched.
      expect(handedBack.equals(after), `split every ${size}`).toBe(true)
    }
  })

  it('an ErrorResponse mid-COPY is handed to pg with everything after it, and the failure pg reports ends the rows', async () => {
    const error = message('E', 'SERROR\0C57P01\0Mterminating connection\0\0')
    const bytes = Buffer.concat([copyOut, message('d', rows[0]!), error, message('Z', 'E')])
    const socket = new PassThrough()
    const handedBack: Buffer[] = []
    socket.on('data', (d: Buffer) => handedBack.push(d))
    const copy = new CopyRows('COPY x TO STDOUT', 1000)
    copy.submit({ stream: socket, query: () => undefined })
    const batches: CsvBatch[] = []
    const read = (async () => {
      for await (const batch of copy as AsyncIterable<CsvBatch>) batches.push(batch)
    })()
    socket.write(bytes.subarray(0, 20))
    socket.write(bytes.subarray(20))
    await waitFor(() => Buffer.concat(handedBack).length === error.length + 6, { message: 'the error never reached pg' })
    expect(Buffer.concat(handedBack).equals(Buffer.concat([error, message('Z', 'E')]))).toBe(true)
    // pg parses it and fails the query through handleError.
    copy.handleError(new Error('terminating connection'))
    await expect(read).rejects.toThrow('terminating connection')
    expect(batches.map((b) => b.data.toString()).join('')).toBe(rows[0])
  })

  it('joins a row of megabytes once, however many reads it spans, and reports each batch\'s longest line', async () => {
    const big = `1,"${'x'.repeat(4_000_000)}"\n`
    const whole = Buffer.concat([copyOut, message('d', '0,a\n'), message('d', big), message('d', '2,b\n'), message('c'), after])
    const chunks = Array.from({ length: Math.ceil(whole.length / 1024) }, (_, i) => Buffer.from(whole.subarray(i * 1024, (i + 1) * 1024)))
    const concat = vi.spyOn(Buffer, 'concat')
    let joined = 0
    try {
      const { batches } = await run(chunks, 1000)
      for (const result of concat.mock.results) joined += (result.value as Buffer).length
      expect(batches.map((b) => b.data.toString()).join('')).toBe(`0,a\n${big}2,b\n`)
      expect(Math.max(...batches.map((b) => b.longestRowBytes))).toBe(big.length)
      expect(batches.find((b) => b.data.toString() === '0,a\n')?.longestRowBytes).toBe(4)
    } finally {
      concat.mockRestore()
    }
    // Joined at every read, this row's reads copied about 500 MB; joined once, a little over the row itself.
    expect(joined).toBeLessThan(3 * whole.length)
  })
})
