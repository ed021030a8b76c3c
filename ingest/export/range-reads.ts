import type { Database } from '../../core/duckdb/index.ts'
import { chunkCsvBatches, type CsvChunk } from './csv-chunker.ts'
import { abortedError, guardReads } from './read-guard.ts'
import type { SourceConnector, SourceTable } from './source-connector.ts'

export interface RangeReadOptions {
  /** The table's connection, inside its consistent read; siblings share its snapshot. */
  source: SourceConnector
  table: SourceTable
  /** The table's own predicate (where, cursor), combined with each range's. */
  where: string | undefined
  /** Disjoint predicates covering the table (source.splitRead); range i becomes part i. */
  ranges: string[]
  /** Connections reading at once, the table's own included. */
  parallelism: number
  /** DuckDB connection of the table; one more is opened per extra reader so conversions run side by side. */
  db: Database
  /** Makes an extra DuckDB connection ready for this table's conversions (the masking key). */
  prepareConnection: (db: Database) => Promise<void>
  scratch: string
  readTimeoutMs: number
  signal?: AbortSignal
  context: { source: string; table: string }
  /** Converts one range's CSV (chunk.index = the range's index) on `db`; removes chunk.path. */
  convert: (db: Database, chunk: CsvChunk) => Promise<void>
  onRows: (rows: number) => void
}

/**
 * Reads a table as independent ranges over `parallelism` connections of one snapshot: each reader takes the
 * next range, streams it to a CSV file (one COPY per range: its end is the chunk's end, no cut in between)
 * and converts it on its own DuckDB connection, then takes the next. The first failure stops every reader
 * (their reads closed, their conversions interrupted) and is what this throws; siblings and extra DuckDB
 * connections are closed before it returns.
 */
export async function readRanges(options: RangeReadOptions): Promise<number> {
  const { ranges, context } = options
  const stop = new AbortController()
  let failure: { error: unknown } | undefined
  const fail = (error: unknown): void => {
    failure ??= { error }
    stop.abort(options.signal?.aborted ? options.signal.reason : error)
  }
  const onOuterAbort = (): void => stop.abort(options.signal!.reason)
  options.signal?.addEventListener('abort', onOuterAbort, { once: true })
  if (options.signal?.aborted) stop.abort(options.signal.reason)
  const siblings: SourceConnector[] = []
  const extraDbs: Database[] = []
  let next = 0
  let total = 0

  const worker = async (reader: SourceConnector, db: Database): Promise<void> => {
    const interrupt = (): void => db.interrupt()
    stop.signal.addEventListener('abort', interrupt, { once: true })
    try {
      while (!stop.signal.aborted && next < ranges.length) {
        const index = next++
        const predicate = options.where ? `(${options.where}) AND ${ranges[index]}` : ranges[index]!
        const csv = await reader.streamCsv(options.table, predicate, Number.MAX_SAFE_INTEGER)
        const close = (): void => void csv.close()
        try {
          // Not `total += await …`: that would read total before the await and lose the other readers' rows.
          const rows = await chunkCsvBatches(
            guardReads(csv.batches, { readTimeoutMs: options.readTimeoutMs, context, giveUp: close, signal: stop.signal }),
            options.scratch,
            Number.MAX_SAFE_INTEGER,
            (chunk) => options.convert(db, { ...chunk, index }),
            options.onRows,
            close,
          )
          total += rows
        } finally {
          await csv.close()
        }
      }
    } catch (error) {
      fail(error)
    } finally {
      stop.signal.removeEventListener('abort', interrupt)
    }
  }

  try {
    // Every sibling joins the snapshot before any COPY starts: the table's own connection could not export
    // its snapshot while it streams.
    const readers: [SourceConnector, Database][] = [[options.source, options.db]]
    const wanted = Math.min(options.parallelism, ranges.length) - 1
    for (let i = 0; i < wanted && !stop.signal.aborted; i++) {
      const sibling = await options.source.openSibling!()
      siblings.push(sibling)
      const db = await options.db.connect()
      extraDbs.push(db)
      await options.prepareConnection(db)
      readers.push([sibling, db])
    }
    const workers = readers.map(([reader, db]) => worker(reader, db))
    await Promise.all(workers)
    if (failure) throw failure.error
    // Stopped from outside before a reader failed (or started): not a complete read.
    if (stop.signal.aborted) throw abortedError(context, stop.signal)
    return total
  } finally {
    options.signal?.removeEventListener('abort', onOuterAbort)
    await Promise.all(siblings.map((s) => s.close().catch(() => undefined)))
    for (const db of extraDbs) db.close()
  }
}
