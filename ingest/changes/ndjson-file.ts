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

  /**
   * Appends one line: `head` (one char per byte, as stagedHeadBytes gives it), `body[start, end)`, then `}` and
   * a newline. Cheaper than append() per record: the head's length is its byte count, and it is written as latin1.
   */
  appendBytes(head: string, body: Buffer, start: number, end: number): void {
    const need = head.length + (end - start) + 2
    if (this.used + need > this.chunk.length) this.nextChunk(need)
    const chunk = this.chunk
    let used = this.used + chunk.write(head, this.used, 'latin1')
    this.lastChunk = this.done.length
    this.lastStart = used
    used += body.copy(chunk, used, start, end)
    chunk[used++] = 0x7d
    chunk[used++] = 0x0a
    this.used = used
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
