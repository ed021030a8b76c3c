import { open, unlink, type FileHandle } from 'node:fs/promises'
import type { Readable } from 'node:stream'
import { tempFileIn } from '../../lake/atomic-file.ts'

export interface CsvChunk {
  path: string
  rows: number
  index: number
}

const quote = 0x22
const newline = 0x0a

/**
 * Splits a CSV byte stream into temp files of `chunkRows` rows each, at row boundaries (a newline outside
 * quotes; `""` inside a quoted field toggles twice, so parity is enough). `onChunk` is awaited before the
 * next chunk is finished, so at most one chunk is being converted while the next one streams in.
 */
export async function chunkCsvStream(
  stream: Readable,
  tmpDir: string,
  chunkRows: number,
  onChunk: (chunk: CsvChunk) => Promise<void>,
  onRows: (rows: number) => void,
): Promise<number> {
  let inQuote = false
  let rows = 0
  let total = 0
  let index = 0
  let path = tempFileIn(tmpDir, '.csv')
  let file: FileHandle = await open(path, 'w')
  let pending: Promise<void> = Promise.resolve()
  const finish = async (): Promise<void> => {
    await file.close()
    const chunk = { path, rows, index }
    // Wait for the previous conversion before starting this one: bounded memory and disk.
    await pending
    pending = onChunk(chunk)
    pending.catch(() => undefined)
    index++
    rows = 0
    path = tempFileIn(tmpDir, '.csv')
    file = await open(path, 'w')
  }
  try {
    for await (const data of stream as AsyncIterable<Buffer>) {
      let start = 0
      let before = rows
      // Jumps between quotes and newlines with indexOf (native) instead of visiting every byte in JS.
      let i = 0
      let nextQuote = data.indexOf(quote)
      for (;;) {
        if (inQuote) {
          if (nextQuote < 0) break
          inQuote = false
          i = nextQuote + 1
          nextQuote = data.indexOf(quote, i)
          continue
        }
        const nl = data.indexOf(newline, i)
        if (nextQuote >= 0 && (nl < 0 || nextQuote < nl)) {
          inQuote = true
          i = nextQuote + 1
          nextQuote = data.indexOf(quote, i)
          continue
        }
        if (nl < 0) break
        rows++
        i = nl + 1
        if (rows >= chunkRows) {
          await file.write(data, start, i - start)
          start = i
          total += rows - before
          onRows(rows - before)
          await finish()
          before = 0
        }
      }
      if (start < data.length) await file.write(data, start, data.length - start)
      total += rows - before
      onRows(rows - before)
    }
    if (rows > 0 || index === 0) {
      await file.close()
      await pending
      pending = onChunk({ path, rows, index })
    } else {
      await file.close()
      await unlink(path).catch(() => undefined)
    }
    await pending
    return total
  } catch (error) {
    await file.close().catch(() => undefined)
    await pending.catch(() => undefined)
    throw error
  }
}
