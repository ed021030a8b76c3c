import { createHash, randomUUID } from 'node:crypto'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { openDatabase, quoteLiteral, type Database } from '../core/duckdb/index.ts'
import { ColdpipeError, isColdpipeError, messageOf } from '../core/errors.ts'
import { childLogger, silentLogger, type Logger } from '../core/logger.ts'
import { CommitLog, compactionIdempotencyKey, exportWatermarkKey, writeParquetToLake, type LakeFile } from '../lake/index.ts'
import { readParquetSql } from '../transform/merge/index.ts'
import { compactionGroups, planCompaction, type CompactionGroup } from './compaction-plan.ts'
import { isDiskFull } from '../lake/index.ts'
import { maintenanceDefaults, type CompactionConfig } from './maintenance-config.ts'
import { findUnreadableFiles, type UnreadableFile } from './quarantine.ts'
import { recordedMaintenance } from './maintenance-record.ts'

export interface CompactOptions {
  lakeRoot: string
  /** `warehouse.maintenance.compaction`; omitted settings take `maintenanceDefaults.compaction`. */
  config?: Partial<CompactionConfig>
  /** Shorthands for `config.smallFileBytes` / `config.minFiles`. */
  smallFileBytes?: number
  minFiles?: number
  runId?: string
  logger?: Logger
  /** Test hook: called once a table's outputs are written, before its commit (e.g. to commit a racing writer). */
  failpoint?: (point: 'written', table: string) => void | Promise<void>
}

export interface CompactedTable {
  table: string
  kind: CompactionGroup['kind']
  filesIn: number
  filesOut: number
  rows: number
  paths: string[]
  /** Active files of the table once the compaction committed. */
  activeFiles: number
}

export interface CompactResult {
  tables: CompactedTable[]
  /** Active files per table (`service.table`) after this compaction. */
  activeFiles: Record<string, number>
}

function hasInFileSeq(file: LakeFile): boolean {
  return file.columns?.some((c) => c.name === '_cp_seq') ?? false
}

/** The commit version that added an export file: publish orders a key's versions by it (`_cp_seq`). */
function exportVersion(log: CommitLog, file: LakeFile): number {
  const version = log.addedIn(file.path)
  if (version !== undefined) return version
  throw new ColdpipeError('LAKE_LOG_CORRUPT', `the lake's state has no version for active file ${file.path}`, { context: { path: file.path, table: `${file.service}.${file.table}` } })
}

/**
 * The rows of `inputs` as one SELECT. Change and event rows already carry every column their order needs
 * (`_cp_source_pos`, `_cp_offset`, …); export rows get the commit version and run id of their file, which
 * publish would otherwise derive from the file, unless an earlier compaction already put them in.
 */
function selectSql(log: CommitLog, kind: CompactionGroup['kind'], inputs: LakeFile[]): string {
  const abs = (f: LakeFile) => log.layout.absolute(f.path)
  if (kind === 'changes') return `SELECT * FROM ${readParquetSql(inputs.map(abs))}`
  const compacted = inputs.filter(hasInFileSeq)
  const raw = inputs.filter((f) => !hasInFileSeq(f))
  const parts: string[] = []
  if (raw.length > 0) {
    const values = raw.map((f) => `(${quoteLiteral(abs(f))}, ${exportVersion(log, f)}, ${quoteLiteral(f.runId ?? '')})`).join(', ')
    parts.push(`SELECT r.* EXCLUDE (filename), m.seq::INTEGER AS _cp_seq, m.run_id AS _cp_run_id
      FROM read_parquet([${raw.map((f) => quoteLiteral(abs(f))).join(', ')}], union_by_name = true, hive_partitioning = false, filename = true) r
      JOIN (VALUES ${values}) m(file, seq, run_id) ON r.filename = m.file`)
  }
  if (compacted.length > 0) parts.push(`SELECT * FROM ${readParquetSql(compacted.map(abs))}`)
  return parts.join('\nUNION ALL BY NAME\n')
}

function outputFile(group: CompactionGroup, inputs: LakeFile[], path: string, written: { bytes: number; rows: number }, columns: LakeFile['columns'], runId: string): LakeFile {
  const first = inputs[0]!
  const key = inputs.find((f) => f.key?.length)?.key
  const base = { path, service: group.service, table: group.table, rows: written.rows, bytes: written.bytes, columns, ...(key ? { key } : {}) }
  if (group.kind === 'changes') return { ...base, origin: 'compaction' }
  // Export outputs stay `origin: 'export'`: a later full run replaces them with the rest, and publish
  // orders their rows by the in-file `_cp_seq`.
  return { ...base, origin: 'export', mode: group.kind === 'export-full' ? 'full' : 'incremental', runId, part: 0, ...(first.cursor ? { cursor: first.cursor } : {}) }
}

/** Writes the outputs of one table and commits them in one commit; on any failure removes what it wrote. */
async function compactGroup(db: Database, log: CommitLog, group: CompactionGroup, plan: LakeFile[][], runId: string, failpoint: CompactOptions['failpoint']): Promise<Omit<CompactedTable, 'activeFiles'>> {
  const table = `${group.service}.${group.table}`
  const written: string[] = []
  const add: LakeFile[] = []
  const compactedFrom: Record<string, string[]> = {}
  try {
    for (const inputs of plan) {
      const paths = inputs.map((f) => f.path).sort()
      const id = createHash('sha256').update(paths.join('\n')).digest('hex').slice(0, 24)
      const path = log.layout.compactedFile({ service: group.service, table: group.table, id })
      const select = selectSql(log, group.kind, inputs)
      const neededBytes = inputs.reduce((sum, f) => sum + f.bytes, 0)
      let file
      try {
        file = await writeParquetToLake(db, log.layout, select, path)
      } catch (error) {
        throw await withDiskFull(error, { dir: log.layout.tmpDir, path: log.layout.absolute(path), what: `compaction of ${table}, ${neededBytes} input bytes`, table })
      }
      written.push(path)
      const expected = inputs.reduce((sum, f) => sum + f.rows, 0)
      if (file.rows !== expected) {
        throw new ColdpipeError('LAKE_IO_FAILED', `compaction of ${table} wrote ${file.rows} rows to ${path}, its inputs hold ${expected}; nothing committed`, {
          context: { table, path, rows: file.rows, expected },
        })
      }
      // The output's own schema (one footer), not the inputs' (hundreds of footers).
      const columns = (await db.all<{ column_name: string; column_type: string }>(`DESCRIBE SELECT * FROM ${readParquetSql([log.layout.absolute(path)])}`)).map((c) => ({ name: c.column_name, type: c.column_type }))
      add.push(outputFile(group, inputs, path, file, columns, runId))
      compactedFrom[path] = paths
    }
    await failpoint?.('written', table)
    const mark = exportWatermarkKey(group.service, group.table)
    // An export run committed meanwhile may have replaced these files (full mode): then nothing is committed.
    // A full run without a cursor keeps position null: its asOf tells runs apart.
    const expect = group.kind === 'changes' ? {} : {
      expectWatermarks: { [mark]: log.watermark(mark)?.position ?? null },
      expectWatermarkAsOf: { [mark]: log.watermark(mark)?.asOf ?? null },
    }
    const remove = plan.flat().map((f) => f.path)
    const key = createHash('sha256').update(Object.values(compactedFrom).map((p) => p.join('\n')).join('\n\n')).digest('hex').slice(0, 24)
    try {
      // Another writer may remove an input meanwhile (a full export run, a quarantine): committing would
      // bring its rows back, so the log refuses and the table waits for the next compaction.
      await log.commit({ kind: 'compaction', runId, idempotencyKey: compactionIdempotencyKey(key), add, remove, requireActive: remove, ...expect, info: { compactedFrom } })
    } catch (error) {
      throw await withDiskFull(error, { dir: log.layout.logDir, path: log.layout.logDir, what: `commit of the compaction of ${table}`, table })
    }
    return { table, kind: group.kind, filesIn: remove.length, filesOut: add.length, rows: add.reduce((sum, f) => sum + f.rows, 0), paths: add.map((f) => f.path) }
  } catch (error) {
    // Outputs at final paths that no commit adds would be orphans; the lake stays as it was.
    for (const path of written) await rm(log.layout.absolute(path), { force: true })
    throw error
  }
}

/** LAKE_DISK_FULL naming `path` when `error` came from a full volume, else `error` as it is. */
async function withDiskFull(error: unknown, p: { dir: string; path: string; what: string; table: string }): Promise<unknown> {
  if (isColdpipeError(error, 'LAKE_DISK_FULL') || !(await isDiskFull(error, p.dir))) return error
  return new ColdpipeError('LAKE_DISK_FULL', `no space left on the lake's volume writing ${p.path} (${p.what})`, {
    cause: error,
    context: { table: p.table, path: p.path },
  })
}

function countActive(log: CommitLog): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const file of log.activeFiles().values()) counts[`${file.service}.${file.table}`] = (counts[`${file.service}.${file.table}`] ?? 0) + 1
  return counts
}

/**
 * Merges each table's small files (every kind: full and incremental exports, CDC history, integration
 * events) per `planCompaction`, one commit per table recording `info.compactedFrom`. Rows are copied with
 * every column publish orders by, so the warehouse computes the same tables from the outputs. A table that
 * fails keeps its files; the others still compact, and the pass then fails naming each failed table.
 */
export function compact(options: CompactOptions): Promise<CompactResult> {
  const config: CompactionConfig = {
    ...maintenanceDefaults.compaction,
    ...options.config,
    ...(options.smallFileBytes !== undefined ? { smallFileBytes: options.smallFileBytes } : {}),
    ...(options.minFiles !== undefined ? { minFiles: options.minFiles } : {}),
  }
  return recordedMaintenance(options.lakeRoot, 'compaction', summarizeCompaction, () => compactNow(options, config), options.logger)
}

/** Counts only, for run records and status. */
export function summarizeCompaction(result: CompactResult): Record<string, unknown> {
  return {
    tablesCompacted: result.tables.length,
    filesIn: result.tables.reduce((sum, t) => sum + t.filesIn, 0),
    filesOut: result.tables.reduce((sum, t) => sum + t.filesOut, 0),
    activeFiles: result.activeFiles,
  }
}

async function compactNow(options: CompactOptions, config: CompactionConfig): Promise<CompactResult> {
  const runId = options.runId ?? `compaction-${randomUUID().slice(0, 8)}`
  const logger = childLogger(options.logger ?? silentLogger, { runId })
  const log = await CommitLog.open(options.lakeRoot, { logger })
  const work = compactionGroups(log.activeFiles().values())
    .map((group) => ({ group, plan: planCompaction(group.files, config) }))
    .filter((w) => w.plan.length > 0)
  const result: CompactResult = { tables: [], activeFiles: {} }
  const failures: { table: string; error: unknown }[] = []
  if (work.length > 0) {
    // Spills go to the lake's scratch folder, removed below, so a bounded memory limit never fails a sort.
    const spill = join(log.layout.tmpDir, `${runId}.spill`)
    await mkdir(spill, { recursive: true })
    let db: Database | undefined
    try {
      db = await openDatabase(':memory:', {
        memoryLimit: config.memoryLimit,
        threads: config.threads,
        errorCode: 'LAKE_IO_FAILED',
        settings: { temp_directory: spill, preserve_insertion_order: 'false' },
      })
      for (const { group, plan } of work) {
        const table = `${group.service}.${group.table}`
        const attempt = async (g: CompactionGroup, p: LakeFile[][]) => {
          const done = await compactGroup(db!, log, g, p, runId, options.failpoint)
          logger.info({ ...done, paths: undefined }, 'compacted table')
          result.tables.push({ ...done, activeFiles: 0 })
        }
        try {
          try {
            await attempt(group, plan)
          } catch (error) {
            if (isColdpipeError(error, 'LAKE_DISK_FULL')) throw error
            const unreadable = await findUnreadableFiles(db, log, plan.flat())
            if (unreadable.length === 0) throw error
            // Don't block: the table's readable files still compact (so its file count stays bounded), and
            // the pass still fails naming the unreadable ones, which stay where they are for the operator.
            const skip = new Set(unreadable.map((u) => u.file.path))
            failures.push({ table, error: unreadableFiles(table, unreadable) })
            const files = group.files.filter((f) => !skip.has(f.path))
            const rest = planCompaction(files, config)
            if (rest.length > 0) await attempt({ ...group, files }, rest)
          }
        } catch (error) {
          logger.error({ table, err: isColdpipeError(error) ? error.toJSON() : messageOf(error) }, 'compaction of a table failed; its files are unchanged')
          failures.push({ table, error })
        }
      }
    } finally {
      db?.close()
      await rm(spill, { recursive: true, force: true })
    }
  }
  result.activeFiles = countActive(log)
  for (const t of result.tables) t.activeFiles = result.activeFiles[t.table] ?? 0
  if (failures.length > 0) throw compactionFailed(failures, work.length)
  return result
}

function unreadableFiles(table: string, unreadable: UnreadableFile[]): ColdpipeError {
  const first = unreadable[0]!
  return new ColdpipeError('LAKE_FILE_CORRUPT', `compaction of ${table}: ${unreadable.length} unreadable files left out, the others compacted: ${unreadable.map((u) => u.error.message).join('; ')}`, {
    cause: first.error,
    context: { table, path: first.file.path, files: unreadable.map((u) => u.file.path) },
  })
}

function compactionFailed(failures: { table: string; error: unknown }[], tables: number): ColdpipeError {
  const first = failures[0]!.error
  const code = isColdpipeError(first) ? first.code : 'LAKE_IO_FAILED'
  const names = failures.map((f) => `${f.table} (${isColdpipeError(f.error) ? `${f.error.code}: ` : ''}${messageOf(f.error)})`).join('; ')
  const failed = [...new Set(failures.map((f) => f.table))]
  return new ColdpipeError(code, `compaction failed for ${failed.length} of ${tables} tables: ${names}`, {
    cause: first,
    context: { ...(isColdpipeError(first) ? first.context : {}), failed },
  })
}
