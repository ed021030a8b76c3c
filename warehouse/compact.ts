import { createHash } from 'node:crypto'
import { openDatabase, type Database } from '../core/duckdb/index.ts'
import { silentLogger, type Logger } from '../core/logger.ts'
import { CommitLog, writeParquetToLake, type LakeFile } from '../lake/index.ts'
import { readParquetSql } from '../transform/merge/index.ts'

export interface CompactOptions {
  lakeRoot: string
  /** Files smaller than this are micro-batches worth merging (default 32 MiB). */
  smallFileBytes?: number
  /** Merge only when a table has at least this many small files (default 4). */
  minFiles?: number
  logger?: Logger
  memoryLimit?: string
  threads?: number
}

export interface CompactResult {
  tables: { table: string; filesIn: number; rows: number; path: string }[]
}

/**
 * Merges each change table's small micro-batch files into one file, committed as one `compaction` commit
 * (add the new file, remove the inputs) recording `info.compactedFrom`, so the warehouse knows the new file
 * holds nothing new. Rows keep every `_cp_*` column, so merge order and history are unchanged.
 */
export async function compact(options: CompactOptions): Promise<CompactResult> {
  const logger = options.logger ?? silentLogger
  const smallFileBytes = options.smallFileBytes ?? 32 * 1024 * 1024
  const minFiles = options.minFiles ?? 4
  const log = await CommitLog.open(options.lakeRoot)
  const groups = new Map<string, LakeFile[]>()
  for (const file of log.activeFiles().values()) {
    if (file.origin === 'export' || file.bytes >= smallFileBytes) continue
    const id = `${file.service}.${file.table}`
    groups.set(id, [...(groups.get(id) ?? []), file])
  }
  const result: CompactResult = { tables: [] }
  let db: Database | undefined
  try {
    for (const [table, files] of groups) {
      if (files.length < minFiles) continue
      db ??= await openDatabase(':memory:', { memoryLimit: options.memoryLimit, threads: options.threads, errorCode: 'LAKE_IO_FAILED' })
      files.sort((a, b) => a.path.localeCompare(b.path))
      const inputs = files.map((f) => f.path)
      const id = createHash('sha256').update(inputs.join('\n')).digest('hex').slice(0, 24)
      const first = files[0]!
      const path = log.layout.compactedFile({ service: first.service, table: first.table, id })
      const select = `SELECT * FROM ${readParquetSql(inputs.map((p) => log.layout.absolute(p)))} ORDER BY _cp_source_pos, _cp_offset`
      const written = await writeParquetToLake(db, log.layout, select, path)
      const columns = (await db.all<{ column_name: string; column_type: string }>(`DESCRIBE ${select}`)).map((c) => ({ name: c.column_name, type: c.column_type }))
      const rows = files.reduce((sum, f) => sum + f.rows, 0)
      const { duplicate } = await log.commit({
        kind: 'compaction',
        runId: `compaction-${id}`,
        idempotencyKey: `compaction:${id}`,
        add: [{ path, service: first.service, table: first.table, origin: 'compaction', rows, bytes: written.bytes, columns, ...(first.key ? { key: first.key } : {}) }],
        remove: inputs,
        info: { compactedFrom: { [path]: inputs } },
      })
      logger.info({ table, filesIn: files.length, rows, path, duplicate }, 'compacted change files')
      result.tables.push({ table, filesIn: files.length, rows, path })
    }
  } finally {
    db?.close()
  }
  return result
}
