import { open, unlink, type FileHandle } from 'node:fs/promises'
import { tempFileIn } from '../../lake/atomic-file.ts'
import { writevAll } from '../../lake/write-all.ts'
import type { CsvBatch } from './source-connector.ts'

export interface CsvChunk {
  path: string
  rows: number
  index: number
  /** Bytes of the chunk's longest line (newline included). */
  longestRowBytes: number
}

/** Small writes cost a thread-pool round trip each; gathering them keeps the main thread free for parsing. */
const writeBytes = 1 << 20

/**
 * Writes row-aligned CSV batches into temp files of `chunkRows` rows each (the source cuts its batches at
 * every multiple of chunkRows; a chunk closes at the first batch boundary at or past it). `onChunk` is
 * awaited before the next chunk is finished, so at most one chunk is being converted while the next one
 * streams in. When a conversion fails, `onChunkFailed` is told at once (so the caller can stop the source
 * rather than wait for the next chunk), and that failure, not the read's reaction to being stopped, is
 * what this throws.
 */
export async function chunkCsvBatches(
  batches: AsyncIterable<CsvBatch>,
  tmpDir: string,
  chunkRows: number,
  onChunk: (chunk: CsvChunk) => Promise<void>,
  onRows: (rows: number) => void,
  onChunkFailed: (error: unknown) => void = () => undefined,
): Promise<number> {
  let rows = 0
  let longest = 0
  let total = 0
  let index = 0
  let path = tempFileIn(tmpDir, '.csv')
  let file: FileHandle = await open(path, 'w')
  let pending: Promise<void> = Promise.resolve()
  let handedOver = false
  let chunkFailure: { error: unknown } | undefined
  let gathered: Buffer[] = []
  let gatheredBytes = 0
  const flush = async (): Promise<void> => {
    if (gatheredBytes === 0) return
    const parts = gathered
    gathered = []
    gatheredBytes = 0
    // A filling disk writes short before it fails: the rest is written (or fails with ENOSPC), never dropped.
    await writevAll(file, parts)
  }
  const finish = async (last: boolean): Promise<void> => {
    await flush()
    await file.close()
    const chunk = { path, rows, index, longestRowBytes: longest }
    // Wait for the previous conversion before starting this one: bounded memory and disk.
    await pending
    pending = onChunk(chunk).catch((error: unknown) => {
      chunkFailure ??= { error }
      onChunkFailed(error)
      throw error
    })
    pending.catch(() => undefined)
    handedOver = last
    index++
    rows = 0
    longest = 0
    if (!last) {
      path = tempFileIn(tmpDir, '.csv')
      file = await open(path, 'w')
    }
  }
  try {
    for await (const batch of batches) {
      gathered.push(batch.data)
      gatheredBytes += batch.data.length
      rows += batch.rows
      if (batch.longestRowBytes > longest) longest = batch.longestRowBytes
      total += batch.rows
      onRows(batch.rows)
      if (rows >= chunkRows) await finish(false)
      else if (gatheredBytes >= writeBytes) await flush()
    }
    if (rows > 0 || index === 0) {
      await finish(true)
    } else {
      await file.close()
      await unlink(path).catch(() => undefined)
    }
    await pending
    return total
  } catch (error) {
    await file.close().catch(() => undefined)
    // A chunk handed to onChunk is onChunk's to remove; the one still being written is ours.
    if (!handedOver) await unlink(path).catch(() => undefined)
    await pending.catch(() => undefined)
    if (chunkFailure) throw chunkFailure.error
    // A failed write through a FileHandle does not say which file; a full disk must name it.
    const errno = error as NodeJS.ErrnoException
    if (typeof errno?.syscall === 'string' && errno.path === undefined) errno.path = path
    throw error
  }
}
