import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from '../../lake/index.ts'
import type { TableFiles } from '../table-files.ts'
import { resultsDir } from './reconcile-result.ts'
import type { TextRow } from './reconcile-source.ts'

/**
 * The warehouse side's first-pass segment checksums, kept beside the results. A table's state and delta files are
 * written once under names never reused, so the same statement over the same files always gives the same rows:
 * the entry is keyed by those files and the statement's full text (columns, types, segments, filters, cutoff),
 * and reused by later runs, on this snapshot or a later one that did not change the table. One entry per table.
 */
export interface SegmentCache {
  get(sql: string): Promise<TextRow[] | undefined>
  put(sql: string, rows: TextRow[]): Promise<void>
}

interface Entry {
  key: string
  rows: TextRow[]
}

export function cacheDir(warehousePath: string): string {
  return join(resultsDir(warehousePath), 'segments')
}

/** `engine`: what renders the warehouse side (DuckDB's version), whose text forms the checksums depend on. */
export function segmentCache(warehousePath: string, source: string, files: Pick<TableFiles, 'table' | 'state' | 'delta' | 'stateColumns'>, engine: string): SegmentCache {
  const path = join(cacheDir(warehousePath), `${encodeURIComponent(source)}.${encodeURIComponent(files.table)}.json`)
  const keyOf = (sql: string): string =>
    createHash('sha256').update(JSON.stringify([engine, files.state, files.delta ?? null, files.stateColumns, sql])).digest('hex')
  return {
    async get(sql) {
      try {
        const entry = JSON.parse(await readFile(path, 'utf8')) as Entry
        return entry.key === keyOf(sql) && Array.isArray(entry.rows) ? entry.rows : undefined
      } catch {
        // None yet, or unreadable: computed again (and rewritten).
        return undefined
      }
    },
    async put(sql, rows) {
      // Only an optimization: a cache that cannot be written must not fail the reconciliation.
      await writeFileAtomic(join(warehousePath, '_tmp'), path, JSON.stringify({ key: keyOf(sql), rows } satisfies Entry)).catch(() => undefined)
    },
  }
}
