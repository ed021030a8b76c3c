import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { quoteIdent } from '../../core/duckdb/index.ts'
import { writeFileAtomic } from '../../lake/index.ts'
import { absoluteIn, readFilesSql, type TableFiles } from '../table-files.ts'
import { resultsDir } from './reconcile-result.ts'
import type { TextRow } from './reconcile-source.ts'

/**
 * The warehouse side's first-pass segment checksums, kept beside the results, one file per table. A table's state
 * and delta files are written once under names never reused, so the same statement over the same files always
 * gives the same rows. Two forms:
 * - a whole statement's rows, keyed by the files and the statement's full text (text and composite splits);
 * - per segment of an aligned integer split (key-segments.ts), keyed by the state file and the statement's shape,
 *   with the delta file they were computed over: a later state that only changed the delta (merge-on-read:
 *   incremental exports, change ingest) changed only the segments holding the keys whose delta rows differ, so
 *   every other segment's checksum is carried forward (segment-carry.ts).
 */
export interface SegmentCache {
  get(sql: string): Promise<TextRow[] | undefined>
  put(sql: string, rows: TextRow[]): Promise<void>
  /** Segments kept by an earlier run of the same shape over the same state file, or undefined. */
  segments(shape: string): Promise<KeptSegments | undefined>
  putSegments(shape: string, kept: Omit<KeptSegments, 'delta'>): Promise<void>
  /**
   * The keys (columns `keyColumns`) whose rows differ between the delta `previousDelta` was and the table's
   * delta now, as a DuckDB relation; 'none' when the delta is the same file; undefined when it cannot be told
   * (the earlier delta file was removed by retention).
   */
  changedKeys(previousDelta: string | null, keyColumns: string[]): string | 'none' | undefined
}

/** The compare point the segments were computed at: rows after it were counted as too new. */
export interface CutoffKey {
  column: string
  kind: string
  value: string
}

/** One segment's warehouse aggregate: keys lo ≤ key ≤ hi; `x` digests the too-new keys excluded in it ('' none). */
export interface KeptSegment {
  lo: string
  hi: string
  n: string
  t: string
  s: string
  x: string
}

export interface KeptSegments {
  /** The delta file the segments were computed over (null: the state file alone). */
  delta: string | null
  cutoff?: CutoffKey
  entries: KeptSegment[]
}

interface CacheFile {
  statement?: { key: string; rows: TextRow[] }
  segments?: KeptSegments & { key: string }
}

export function cacheDir(warehousePath: string): string {
  return join(resultsDir(warehousePath), 'segments')
}

/** `engine`: what renders the warehouse side (DuckDB's version), whose text forms the checksums depend on. */
export function segmentCache(warehousePath: string, source: string, files: Pick<TableFiles, 'table' | 'state' | 'delta' | 'stateColumns'>, engine: string): SegmentCache {
  const path = join(cacheDir(warehousePath), `${encodeURIComponent(source)}.${encodeURIComponent(files.table)}.json`)
  const digest = (parts: unknown[]): string => createHash('sha256').update(JSON.stringify(parts)).digest('hex')
  const statementKey = (sql: string): string => digest([engine, files.state, files.delta ?? null, files.stateColumns, sql])
  const segmentsKey = (shape: string): string => digest(['segments', engine, files.state, files.stateColumns, shape])
  const read = async (): Promise<CacheFile | undefined> => {
    try {
      return JSON.parse(await readFile(path, 'utf8')) as CacheFile
    } catch {
      // None yet, or unreadable: computed again (and rewritten).
      return undefined
    }
  }
  // Only an optimization: a cache that cannot be written must not fail the reconciliation.
  const write = (entry: CacheFile): Promise<void> => writeFileAtomic(join(warehousePath, '_tmp'), path, JSON.stringify(entry)).catch(() => undefined)
  return {
    async get(sql) {
      const entry = (await read())?.statement
      return entry?.key === statementKey(sql) && Array.isArray(entry.rows) ? entry.rows : undefined
    },
    put: (sql, rows) => write({ statement: { key: statementKey(sql), rows } }),
    async segments(shape) {
      const entry = (await read())?.segments
      if (entry?.key !== segmentsKey(shape) || !Array.isArray(entry.entries)) return undefined
      return { delta: entry.delta ?? null, ...(entry.cutoff ? { cutoff: entry.cutoff } : {}), entries: entry.entries }
    },
    putSegments: (shape, kept) => write({ segments: { key: segmentsKey(shape), delta: files.delta ?? null, ...kept } }),
    changedKeys(previousDelta, keyColumns) {
      const now = files.delta ?? null
      if (previousDelta === now) return 'none'
      const keys = keyColumns.map(quoteIdent).join(', ')
      const rel = (delta: string): string => readFilesSql([absoluteIn(warehousePath, delta)])
      if (previousDelta === null) return `SELECT ${keys} FROM ${rel(now!)}`
      if (!existsSync(absoluteIn(warehousePath, previousDelta))) return undefined
      if (now === null) return `SELECT ${keys} FROM ${rel(previousDelta)}`
      // A delta carries the earlier delta's rows over unchanged: only rows added or replaced differ.
      return `SELECT ${keys} FROM (SELECT * FROM ${rel(now)} EXCEPT SELECT * FROM ${rel(previousDelta)})
        UNION ALL SELECT ${keys} FROM (SELECT * FROM ${rel(previousDelta)} EXCEPT SELECT * FROM ${rel(now)})`
    },
  }
}
