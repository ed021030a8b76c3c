import { mkdir, rename } from 'node:fs/promises'
import { dirname } from 'node:path'
import { quoteLiteral, type Database } from '../core/duckdb/index.ts'
import { ColdpipeError, messageOf } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { CommitLog, LakeFile } from '../lake/index.ts'

/** A table kept at its previous state because a file of it could not be read; carried until new data arrives. */
export interface StaleTable {
  /** `service.table` */
  table: string
  service: string
  name: string
  code: 'LAKE_FILE_CORRUPT'
  reason: string
  /** Lake paths of the quarantined files (their bytes are under `_quarantine/`). */
  files: string[]
  since: string
  /** The lake version of the quarantine commit: files added after it are new data for the table. */
  quarantineVersion: number
}

export interface UnreadableFile {
  file: LakeFile
  error: ColdpipeError
}

/**
 * Reads each file on its own, every column of every row (a hash of the whole row, so nothing is pruned and
 * nothing is materialized), and returns those DuckDB cannot read. Called only after a table failed to stage.
 */
export async function findUnreadableFiles(db: Database, log: CommitLog, files: LakeFile[]): Promise<UnreadableFile[]> {
  const unreadable: UnreadableFile[] = []
  for (const file of files) {
    const path = log.layout.absolute(file.path)
    try {
      await db.all(`SELECT bit_xor(hash(t)) AS h FROM read_parquet(${quoteLiteral(path)}, hive_partitioning = false) t`)
    } catch (cause) {
      const detail = messageOf(cause).split('\n')[0] ?? ''
      unreadable.push({
        file,
        error: new ColdpipeError('LAKE_FILE_CORRUPT', `lake file ${file.path} of table ${file.service}.${file.table} cannot be read: ${detail}`, {
          cause,
          context: { path: file.path, table: `${file.service}.${file.table}`, duckdb: detail },
        }),
      })
    }
  }
  return unreadable
}

/**
 * Moves unreadable files to `_quarantine/<path>` (kept for inspection) and removes them from the active set
 * with one `quarantine` commit recording why. The move comes first: a crash between the two leaves an active
 * path with no file, which the next publish finds unreadable and quarantines again.
 */
export async function quarantineFiles(log: CommitLog, unreadable: UnreadableFile[], runId: string, logger: Logger): Promise<number> {
  const entries = []
  for (const { file, error } of unreadable) {
    const movedTo = log.layout.quarantineFile(file.path)
    const target = log.layout.absolute(movedTo)
    await mkdir(dirname(target), { recursive: true })
    let moved = true
    await rename(log.layout.absolute(file.path), target).catch((cause: NodeJS.ErrnoException) => {
      if (cause.code !== 'ENOENT') throw cause
      moved = false
    })
    entries.push({ path: file.path, table: `${file.service}.${file.table}`, reason: error.message, code: error.code, ...(moved ? { movedTo } : {}) })
    logger.error({ err: error.toJSON(), path: file.path, table: `${file.service}.${file.table}`, movedTo: moved ? movedTo : undefined }, 'lake file quarantined')
  }
  const { commit } = await log.commit({
    kind: 'quarantine',
    runId,
    remove: unreadable.map((u) => u.file.path),
    info: { reason: 'unreadable lake files', quarantined: entries },
  })
  return commit.version
}
