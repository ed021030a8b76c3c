import { randomUUID } from 'node:crypto'
import { rm } from 'node:fs/promises'
import { quoteLiteral, type Database } from '../../core/duckdb/index.ts'
import { ColdpipeError, isColdpipeError } from '../../core/errors.ts'
import { isDiskFullError } from '../disk-full.ts'
import type { CommitLog } from '../commit-log.ts'
import type { CommitDraft, LakeFile } from '../commit-types.ts'
import { writeParquetToLake } from '../parquet-file-writer.ts'

/** A lake file's rows as a SELECT, with the columns it yields. */
export interface FileSelect {
  sql: string
  columns: { name: string; type: string }[]
}

/**
 * The rows of an active file as a SELECT that keeps their order among the table's versions: export rows
 * get the commit version and run id of their file as `_cp_seq`/`_cp_run_id` (what publish would derive
 * from the file, and what compaction writes in), so a rewritten file, committed later, still sorts where
 * the original did. Change rows carry their order in their own columns.
 */
export function fileSelect(log: CommitLog, file: LakeFile): FileSelect {
  // No hive partitioning: export paths hold `run=<id>`, which would come back as a column.
  const read = `read_parquet(${quoteLiteral(log.layout.absolute(file.path))}, hive_partitioning = false)`
  const columns = file.columns ?? []
  const ordered = file.origin !== 'export' || columns.some((c) => c.name === '_cp_seq')
  if (ordered) return { sql: `SELECT * FROM ${read}`, columns }
  const seq = log.addedIn(file.path)
  if (seq === undefined) throw new ColdpipeError('LAKE_LOG_CORRUPT', `the lake's state has no version for active file ${file.path}`, { context: { path: file.path } })
  return {
    sql: `SELECT *, ${seq}::INTEGER AS _cp_seq, ${quoteLiteral(file.runId ?? '')} AS _cp_run_id FROM ${read}`,
    columns: [...columns, { name: '_cp_seq', type: 'INTEGER' }, { name: '_cp_run_id', type: 'VARCHAR' }],
  }
}

export interface PlannedRewrite {
  file: LakeFile
  /** The rows the new file holds (a SELECT over `fileSelect(file).sql`). */
  select: string
}

export interface RewriteOutcome {
  version: number
  added: LakeFile[]
  /** Lake-relative paths removed by the commit (and deleted from disk). */
  removed: string[]
  /** Each old file and its replacement (null: no row was left). */
  replaced: { from: string; to: string | null }[]
  /** Per `service.table`: rows before and after. */
  rows: Record<string, { before: number; after: number }>
}

function rewrittenPath(path: string, tag: string): string {
  return path.replace(/(\.parquet)?$/, `~${tag}.parquet`)
}

/**
 * Writes each planned file anew, then one commit that adds the new files and removes the old ones, on
 * condition that every old one is still active (LAKE_COMMIT_CONFLICT otherwise: a full export or a
 * compaction replaced it meanwhile; the caller plans again). Then the old files are deleted from disk,
 * not just unreferenced. A file left with no rows is removed without a replacement. On failure before the
 * commit, the new files are removed and the lake is as it was.
 */
export async function commitRewrites(
  log: CommitLog,
  db: Database,
  planned: PlannedRewrite[],
  draft: Pick<CommitDraft, 'kind' | 'runId' | 'info'>,
): Promise<RewriteOutcome> {
  const tag = `${draft.kind}-${randomUUID().slice(0, 8)}`
  const written: string[] = []
  const added: LakeFile[] = []
  const rows: RewriteOutcome['rows'] = {}
  const replaced: RewriteOutcome['replaced'] = []
  try {
    for (const { file, select } of planned) {
      const path = rewrittenPath(file.path, tag)
      const out = await writeParquetToLake(db, log.layout, select, path)
      written.push(path)
      const id = `${file.service}.${file.table}`
      const count = (rows[id] ??= { before: 0, after: 0 })
      count.before += file.rows
      count.after += out.rows
      replaced.push({ from: file.path, to: out.rows === 0 ? null : path })
      if (out.rows === 0) continue
      const columns = (await db.all<{ column_name: string; column_type: string }>(`DESCRIBE SELECT * FROM read_parquet(${quoteLiteral(log.layout.absolute(path))}, hive_partitioning = false)`)).map((c) => ({
        name: c.column_name,
        type: c.column_type,
      }))
      added.push({ ...file, path, rows: out.rows, bytes: out.bytes, columns })
    }
    const remove = planned.map((p) => p.file.path)
    const result = await log.commit({ ...draft, add: added, remove, requireActive: remove })
    for (const path of written) if (!added.some((f) => f.path === path)) await rm(log.layout.absolute(path), { force: true })
    for (const path of remove) await rm(log.layout.absolute(path), { force: true })
    return { version: result.commit.version, added, removed: remove, replaced, rows }
  } catch (error) {
    for (const path of written) await rm(log.layout.absolute(path), { force: true })
    if (isDiskFullError(error) && !isColdpipeError(error, 'LAKE_DISK_FULL')) {
      throw new ColdpipeError('LAKE_DISK_FULL', `no space left on the lake's volume rewriting files under ${log.layout.root} (${draft.kind}); nothing was committed`, {
        cause: error,
        context: { path: log.layout.root, kind: draft.kind },
      })
    }
    throw error
  }
}
