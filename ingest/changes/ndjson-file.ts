import { open, rm, type FileHandle } from 'node:fs/promises'
import { quoteIdent, quoteLiteral } from '../../core/duckdb/index.ts'
import { writeAll } from '../../lake/index.ts'
import type { ColumnSpec } from '../../transform/index.ts'

/** NDJSON temp files that DuckDB's read_json turns into typed rows. */

export const closeLine = Buffer.from('}\n')

/** Creates `file` from `fill`; on any failure the file is removed (no empty or partial staging file stays). */
async function createFile(file: string, fill: (write: (data: Buffer) => Promise<void>) => Promise<void>): Promise<void> {
  const handle = await open(file, 'w')
  try {
    try {
      await fill((data) => writeAll(handle, data))
    } finally {
      await handle.close()
    }
  } catch (error) {
    await rm(file, { force: true })
    throw error
  }
}

/** Writes byte chunks to a new file, ~1 MiB per write. */
export async function writeChunks(file: string, chunks: Buffer[]): Promise<void> {
  await createFile(file, async (write) => {
    let pending: Buffer[] = []
    let size = 0
    for (const chunk of chunks) {
      pending.push(chunk)
      size += chunk.length
      if (size > 1 << 20) {
        await write(Buffer.concat(pending, size))
        pending = []
        size = 0
      }
    }
    if (pending.length > 0) await write(Buffer.concat(pending, size))
  })
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
