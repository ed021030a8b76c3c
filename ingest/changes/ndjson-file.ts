import { open, rm, type FileHandle } from 'node:fs/promises'
import { quoteIdent, quoteLiteral } from '../../core/duckdb/index.ts'
import { writeAll, writevAll } from '../../lake/index.ts'
import type { ColumnSpec } from '../../transform/index.ts'

/** NDJSON temp files that DuckDB's read_json turns into typed rows. */

/** Creates `file` from `fill`; on any failure the file is removed (no empty or partial staging file stays). */
async function createFile(file: string, fill: (write: (data: Buffer) => Promise<void>, handle: FileHandle) => Promise<void>): Promise<void> {
  const handle = await open(file, 'w')
  try {
    try {
      await fill((data) => writeAll(handle, data), handle)
    } finally {
      await handle.close()
    }
  } catch (error) {
    await rm(file, { force: true })
    throw error
  }
}

const pieceChunkBytes = 1 << 20

const hexDigits = Buffer.from('0123456789abcdef')

/**
 * NDJSON lines built from a text head and a slice of raw bytes each, copied once into ~1 MiB chunks: a
 * Buffer per piece and a Buffer.concat of them cost as much main-thread time as the rest of a landing
 * (1.5 µs per copy call over ~3 pieces per record, docs/ingest.md).
 */
export class NdjsonChunks {
  private readonly done: Buffer[] = []
  private chunk = Buffer.allocUnsafeSlow(pieceChunkBytes)
  private used = 0
  /** Bytes allocated for chunks so far (what these lines keep in memory). */
  allocated = pieceChunkBytes
  /** After append(): where its body landed, for body(). */
  lastChunk = 0
  lastStart = 0

  /** Appends `head`, then `body[start, end)`, then `tail` (ASCII). */
  append(head: string, body: Uint8Array, start: number, end: number, tail: string): void {
    // Three bytes per UTF-16 unit bound the UTF-8 length without measuring it; write() would truncate silently.
    const need = head.length * 3 + (end - start) + tail.length
    if (this.used + need > this.chunk.length) this.nextChunk(need)
    this.used += this.chunk.write(head, this.used)
    this.lastChunk = this.done.length
    this.lastStart = this.used
    this.chunk.set(start === 0 && end === body.length ? body : body.subarray(start, end), this.used)
    this.used += end - start
    this.used += this.chunk.write(tail, this.used, 'latin1')
  }

  /** After appendLine(): where the key's JSON string (quotes included) lies in chunk lastChunk, or -1 for a null key. */
  lastKeyStart = -1
  lastKeyEnd = -1

  /**
   * Appends one staged line, `{"o":<offset>,"ts":<timestamp>,"k":<key as a JSON string>,"h":<headers>,"p":<body[start, end)>}`
   * and a newline, byte by byte into the chunk: no head string, no JSON.stringify of the key, no write call per piece.
   * `offset` and `timestamp` are ASCII digits; `headers` is JSON with one char per byte (latin1 of its UTF-8). The key's
   * bytes are escaped as JSON.stringify escapes a latin1 string (`"`, `\`, controls), so a valid UTF-8 key reads back as
   * its text and an invalid one stays invalid (DuckDB refuses it; the batch is then typed in JavaScript).
   */
  appendLine(offset: string, timestamp: string, key: Uint8Array | null, headers: string, body: Buffer, start: number, end: number): void {
    const need = 30 + offset.length + timestamp.length + (key === null ? 4 : key.length * 6 + 2) + headers.length + (end - start)
    if (this.used + need > this.chunk.length) this.nextChunk(need)
    const c = this.chunk
    let u = this.used
    // The fixed keys are stored byte by byte on purpose: a helper copying them from strings made staging 200 k
    // envelopes ~20 % slower (min 401–455 against 304–368 ms CPU, three alternating pairs).
    c[u++] = 0x7b // {"o":
    c[u++] = 0x22
    c[u++] = 0x6f
    c[u++] = 0x22
    c[u++] = 0x3a
    for (let i = 0; i < offset.length; i++) c[u++] = offset.charCodeAt(i)
    c[u++] = 0x2c // ,"ts":
    c[u++] = 0x22
    c[u++] = 0x74
    c[u++] = 0x73
    c[u++] = 0x22
    c[u++] = 0x3a
    for (let i = 0; i < timestamp.length; i++) c[u++] = timestamp.charCodeAt(i)
    c[u++] = 0x2c // ,"k":
    c[u++] = 0x22
    c[u++] = 0x6b
    c[u++] = 0x22
    c[u++] = 0x3a
    if (key === null) {
      this.lastKeyStart = this.lastKeyEnd = -1
      c[u++] = 0x6e // null
      c[u++] = 0x75
      c[u++] = 0x6c
      c[u++] = 0x6c
    } else {
      this.lastKeyStart = u
      c[u++] = 0x22
      for (let i = 0; i < key.length; i++) {
        const b = key[i]!
        if (b >= 0x20 && b !== 0x22 && b !== 0x5c) {
          c[u++] = b
        } else {
          c[u++] = 0x5c
          const short = b === 0x22 ? 0x22 : b === 0x5c ? 0x5c : b === 8 ? 0x62 : b === 9 ? 0x74 : b === 10 ? 0x6e : b === 12 ? 0x66 : b === 13 ? 0x72 : 0
          if (short !== 0) {
            c[u++] = short
          } else {
            c[u++] = 0x75 // u00XX, lower-case hex as JSON.stringify writes it
            c[u++] = 0x30
            c[u++] = 0x30
            c[u++] = hexDigits[b >> 4]!
            c[u++] = hexDigits[b & 15]!
          }
        }
      }
      c[u++] = 0x22
      this.lastKeyEnd = u
    }
    c[u++] = 0x2c // ,"h":
    c[u++] = 0x22
    c[u++] = 0x68
    c[u++] = 0x22
    c[u++] = 0x3a
    for (let i = 0; i < headers.length; i++) c[u++] = headers.charCodeAt(i)
    c[u++] = 0x2c // ,"p":
    c[u++] = 0x22
    c[u++] = 0x70
    c[u++] = 0x22
    c[u++] = 0x3a
    this.lastChunk = this.done.length
    this.lastStart = u
    u += body.copy(c, u, start, end)
    c[u++] = 0x7d
    c[u++] = 0x0a
    this.used = u
  }

  /** The text between `start` and `end` of `chunk` (as lastChunk and lastKeyStart/End said), one char per byte. */
  latin1(chunk: number, start: number, end: number): string {
    const buffer = chunk < this.done.length ? this.done[chunk]! : this.chunk
    return buffer.toString('latin1', start, end)
  }

  private nextChunk(need: number): void {
    if (this.used > 0) this.done.push(this.chunk.subarray(0, this.used))
    this.chunk = Buffer.allocUnsafeSlow(Math.max(pieceChunkBytes, need))
    this.allocated += this.chunk.length
    this.used = 0
  }

  /** The bytes of an earlier append's body: `chunk` and `start` as lastChunk/lastStart said, `length` its size. */
  body(chunk: number, start: number, length: number): Buffer {
    const buffer = chunk < this.done.length ? this.done[chunk]! : this.chunk
    return buffer.subarray(start, start + length)
  }

  buffers(): Buffer[] {
    return this.used > 0 ? [...this.done, this.chunk.subarray(0, this.used)] : [...this.done]
  }
}

/** Writes whole buffers to a new file with one writev(2) in the usual case. */
export async function writeBuffers(file: string, buffers: Buffer[]): Promise<void> {
  await createFile(file, (_write, handle) => writevAll(handle, buffers))
}

/** Writes lines to a new file in ~1 MiB chunks. */
export async function writeLines(file: string, lines: string[]): Promise<void> {
  await createFile(file, async (write) => {
    let chunk: string[] = []
    let size = 0
    for (const line of lines) {
      chunk.push(line)
      size += line.length
      if (size > 1 << 20) {
        await write(Buffer.from(chunk.join('\n') + '\n'))
        chunk = []
        size = 0
      }
    }
    if (chunk.length > 0) await write(Buffer.from(chunk.join('\n') + '\n'))
  })
}

export function selectFromNdjson(file: string, columns: ColumnSpec[]): string {
  const wire = columns.map((c) => `${quoteLiteral(c.name)}: ${quoteLiteral(c.wireType ?? c.type)}`).join(', ')
  const select = columns
    .map((c) => (c.wireExpr ? `${c.wireExpr.replace('$', quoteIdent(c.name))} AS ${quoteIdent(c.name)}` : quoteIdent(c.name)))
    .join(', ')
  return `SELECT ${select} FROM read_json(${quoteLiteral(file)}, format = 'newline_delimited', columns = {${wire}}, maximum_object_size = 67108864)`
}
