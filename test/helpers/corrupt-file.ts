import { open, stat } from 'node:fs/promises'

/**
 * Overwrites the second half of a file's data with garbage, leaving its footer (schema, row counts) intact, so
 * it opens and counts fine and fails only when its pages are read. (Parquet pages carry no checksum that
 * DuckDB checks: garbage that lands only inside a page's values can read back as values; across page headers
 * it cannot.)
 */
export async function corruptMiddle(path: string): Promise<void> {
  const size = (await stat(path)).size
  const handle = await open(path, 'r+')
  try {
    const tail = Buffer.alloc(8)
    await handle.read(tail, 0, 8, size - 8)
    const dataEnd = size - 8 - tail.readUInt32LE(0)
    const from = Math.floor(dataEnd / 2)
    await handle.write(Buffer.alloc(dataEnd - from, 0xab), 0, dataEnd - from, from)
  } finally {
    await handle.close()
  }
}
