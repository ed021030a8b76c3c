import { randomUUID } from 'node:crypto'
import { mkdir, rm, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { Database } from '../../core/duckdb/index.ts'
import { openSoon, quoteIdent, quoteLiteral } from '../../core/duckdb/index.ts'
import { ColdpipeError } from '../../core/errors.ts'
import type { Logger } from '../../core/logger.ts'
import { exportIdempotencyKey, exportWatermarkKey, LakeLayout, type CommitLog, type LakeFile, type Watermark } from '../../lake/index.ts'
import { writeParquetToLake } from '../../lake/index.ts'
import { chunkCsvBatches, type CsvChunk } from './csv-chunker.ts'
import { readRanges } from './range-reads.ts'
import { attemptError } from './attempt-error.ts'
import { guardReads } from './read-guard.ts'
import type { ExportTableConfig } from './export-config.ts'
import { ExportProgress, type ExportProgressListener } from './export-progress.ts'
import { checkSchemaChange } from './schema-compat.ts'
import type { CsvStream, SourceConnector, SourceTable } from './source-connector.ts'
import { openTableLanding } from '../pii/table-landing.ts'
import { probeStaged } from '../pii/staging-probe.ts'

export interface TableExportRequest {
  service: string
  runId: string
  table: ExportTableConfig
  /** Backfill: read every row and replace the table's earlier files, whatever the mode. */
  forceFull: boolean
  cursorRange?: { from: string; to: string }
  asOf: string
  /** No bytes from the source for this long while waiting for them: a stall (SOURCE_READ_TIMEOUT). */
  readTimeoutMs: number
  /** Stops the table at once: closes the source's read, interrupts DuckDB, removes this attempt's files. */
  signal?: AbortSignal
  onProgress?: ExportProgressListener
  /** Connections reading the table at once (ranges of one snapshot); 1 or absent: one stream. */
  parallelism?: number
}

export interface TableExportOutcome {
  mode: 'full' | 'incremental'
  rows: number
  bytes: number
  files: LakeFile[]
  watermarkBefore: string | null
  watermarkAfter: string | null
  duplicate: boolean
}

const temporalCursor = /^(DATE|TIMESTAMP|TIMESTAMPTZ)$/
/** Cursor types with values above every other (infinity; NaN for floats). */
const unboundedCursor = /^(DATE|TIMESTAMP|TIMESTAMPTZ|DOUBLE|REAL|FLOAT)$/

/** DuckDB's read_csv refuses lines longer than its max_line_size, 2,000,000 bytes unless told otherwise. */
const defaultMaxLineBytes = 2_000_000

/**
 * read_csv options for a chunk whose longest line is `longestRowBytes`: none for ordinary rows; for a value of
 * megabytes, a max_line_size that admits it and a buffer twice that (DuckDB's default buffer is 16 lines
 * long: 640 MB for a 40 MB value, past the export's memory limit).
 */
function lineSizeOptions(longestRowBytes: number): string {
  if (longestRowBytes < defaultMaxLineBytes / 2) return ''
  const maxLine = longestRowBytes + 1024
  return `, max_line_size=${maxLine}, buffer_size=${Math.max(2 * maxLine, 16 * defaultMaxLineBytes)}`
}

export function watermarkKey(service: string, table: string): string {
  return exportWatermarkKey(service, table)
}

/**
 * Columns of the table's newest active export file, the schema new files must stay compatible with; a
 * compacted file counts without the ordering columns compaction adds.
 */
function latestColumns(log: CommitLog, service: string, table: string): { name: string; type: string }[] | undefined {
  let newest: { version: number; columns: { name: string; type: string }[] } | undefined
  for (const file of log.activeFiles().values()) {
    if (file.service !== service || file.table !== table || !file.columns || (file.origin !== 'export' && file.origin !== 'compaction')) continue
    const version = log.addedIn(file.path) ?? -1
    if (!newest || version > newest.version) newest = { version, columns: file.columns }
  }
  return newest?.columns.filter((c) => c.name !== '_cp_seq' && c.name !== '_cp_run_id')
}

/** The lake's layout with its scratch folder replaced by one of this attempt's own, removed as a whole at the end. */
class AttemptLayout extends LakeLayout {
  constructor(root: string, private readonly scratch: string) {
    super(root)
  }

  override get tmpDir(): string {
    return this.scratch
  }
}

function selectedColumns(described: SourceTable, config: ExportTableConfig, service: string): SourceTable {
  const chosen = pickColumns(described, config, service)
  const refused = chosen.columns.find((c) => c.unsupported)
  if (refused) {
    throw new ColdpipeError('EXPORT_TYPE_UNSUPPORTED', `source ${service}, ${refused.unsupported}; leave the column out with columns: (or export a view that casts it to text)`, {
      context: { source: service, table: config.name, column: refused.name, type: refused.sourceType },
    })
  }
  return chosen
}

function pickColumns(described: SourceTable, config: ExportTableConfig, service: string): SourceTable {
  if (!config.columns) return described
  const byName = new Map(described.columns.map((c) => [c.name, c]))
  const columns = config.columns.map((name) => {
    const column = byName.get(name)
    if (!column) {
      throw new ColdpipeError('CONFIG_INVALID', `source ${service}, table ${config.name}: column ${name} in columns does not exist`, {
        context: { source: service, table: config.name, column: name },
      })
    }
    return column
  })
  return { ...described, columns }
}

/**
 * Exports one table inside the source's consistent read: streams CSV chunks into a scratch folder of this
 * attempt's own under `_tmp/`, converts each finished chunk to Parquet with DuckDB while the next one
 * streams, then makes them visible in one commit, conditional on the table's watermark being what it was
 * when the table began (one writer per table). Any failure removes the attempt's scratch folder and parts
 * and throws a coded error naming source and table; nothing of a failed attempt is committed.
 */
export async function exportTable(
  source: SourceConnector,
  db: Database,
  log: CommitLog,
  request: TableExportRequest,
  logger: Logger,
): Promise<TableExportOutcome> {
  const { service, runId, table: config } = request
  const key = exportIdempotencyKey(runId, service, config.name)
  // Personal data is masked (and erased subjects kept out) before anything lands (docs/personal-data.md).
  const landing = await openTableLanding(log, [db], service, config.name)
  const described = landing.maskSource(selectedColumns(await source.describeTable(config.name), config, service), source)
  const mode = request.forceFull ? 'full' : config.mode
  const markKey = watermarkKey(service, config.name)
  // Other runs (other processes, other machines) may have committed since this run opened the log.
  await log.refresh()
  const previousMark = log.watermark(markKey)
  const watermarkBefore = previousMark?.position ?? null

  const existing = log.findByKey(key)
  if (existing) {
    return {
      mode,
      rows: existing.add.reduce((n, f) => n + f.rows, 0),
      bytes: existing.add.reduce((n, f) => n + f.bytes, 0),
      files: existing.add,
      watermarkBefore,
      watermarkAfter: existing.watermarks[0]?.position ?? watermarkBefore,
      duplicate: true,
    }
  }

  const columns = described.columns.map((c) => ({ name: c.name, type: c.duckType }))
  if (!request.forceFull) checkSchemaChange(service, config.name, latestColumns(log, service, config.name), columns)

  const cursor = config.cursor ? described.columns.find((c) => c.name === config.cursor) : undefined
  if (config.cursor && !cursor) {
    throw new ColdpipeError('CONFIG_INVALID', `source ${service}, table ${config.name}: cursor column ${config.cursor} does not exist`, {
      context: { source: service, table: config.name, column: config.cursor },
    })
  }
  for (const k of config.key ?? []) {
    if (!described.columns.some((c) => c.name === k)) {
      throw new ColdpipeError('CONFIG_INVALID', `source ${service}, table ${config.name}: key column ${k} does not exist`, {
        context: { source: service, table: config.name, column: k },
      })
    }
  }

  const predicates: string[] = []
  if (config.where) predicates.push(`(${config.where})`)
  if (cursor) {
    const col = source.quoteIdent(cursor.name)
    const temporal = temporalCursor.test(cursor.duckType)
    if (request.cursorRange) {
      predicates.push(`${col} >= ${source.quoteLiteral(request.cursorRange.from)} AND ${col} <= ${source.quoteLiteral(request.cursorRange.to)}`)
    } else if (mode === 'incremental' && watermarkBefore !== null) {
      // Look back lagSeconds for rows committed late with an older cursor value; ids are not times, so no lag.
      const lag = temporal && config.lagSeconds > 0 ? source.lagPredicate(col, watermarkBefore, config.lagSeconds) : `${col} > ${source.quoteLiteral(watermarkBefore)}`
      predicates.push(lag)
    }
  }

  const progress = new ExportProgress(logger, { source: service, table: config.name, estimatedRows: described.estimatedRows }, request.onProgress)
  const files: LakeFile[] = []
  /** Each part's largest cursor value, compared at the end (parts of parallel reads finish in any order). */
  const cursorMaxima: (string | null)[] = []
  const csvColumns = `{${described.columns.map((c) => `${quoteLiteral(c.name)}: ${quoteLiteral(c.csvType)}`).join(', ')}}`
  const selectList = described.columns
    // A function, not a string: `$'` or `$&` in a column's name must not act as replacement patterns.
    .map((c) => `${c.convertExpr.replace(/\$col/g, () => quoteIdent(c.name))} AS ${quoteIdent(c.name)}`)
    .join(', ')
  const scratch = join(log.layout.tmpDir, `export-${randomUUID()}`)
  const layout = new AttemptLayout(log.layout.root, scratch)
  const where = { source: service, table: config.name }
  const partPaths: string[] = []
  const interrupt = (): void => db.interrupt()
  request.signal?.addEventListener('abort', interrupt, { once: true })
  /** Converts one chunk of CSV into part `chunk.index` with DuckDB connection `conn`; removes the CSV. */
  const convert = async (conn: Database, chunk: CsvChunk): Promise<void> => {
    const relativePath = layout.exportFile({ service, table: config.name, runId, part: chunk.index })
    const partPath = layout.absolute(relativePath)
    try {
      partPaths.push(partPath)
      await probeStaged({ path: chunk.path, service, table: config.name, kind: 'export-csv' })
      const read = `read_csv(${quoteLiteral(chunk.path)}, columns=${csvColumns}, header=false, auto_detect=false, delim=',', quote='"', escape='"', nullstr='', allow_quoted_nulls=false, strict_mode=true, new_line='\\n'${lineSizeOptions(chunk.longestRowBytes)})`
      const written = await writeParquetToLake(conn, layout, landing.keepSelect(`SELECT ${selectList} FROM ${read}`, columns), relativePath)
      if (written.rows !== chunk.rows - (await landing.erasedRows(conn, `SELECT ${selectList} FROM ${read}`, columns))) {
        throw new ColdpipeError('EXPORT_FAILED', `source ${service}, table ${config.name}: chunk ${chunk.index} has ${chunk.rows} rows but its Parquet file has ${written.rows}`, {
          context: { source: service, table: config.name, chunk: chunk.index, csvRows: chunk.rows, parquetRows: written.rows },
        })
      }
      if (cursor && chunk.rows > 0) {
        const col = quoteIdent(cursor.name)
        // An infinite (or NaN) cursor never becomes the watermark: nothing compares above it, and every later run
        // would read nothing. Such rows stay past the watermark and are read again at every run.
        const finite = unboundedCursor.test(cursor.duckType) ? ` WHERE isfinite(${col})` : ''
        const [row] = await conn.all<{ m: string | null }>(`SELECT max(${col})::VARCHAR AS m FROM read_parquet(${quoteLiteral(layout.absolute(relativePath))})${finite}`)
        cursorMaxima.push(row?.m ?? null)
      }
      files.push({
        path: written.path,
        service,
        table: config.name,
        origin: 'export',
        rows: written.rows,
        bytes: written.bytes,
        columns,
        ...(config.key ? { key: config.key } : {}),
        ...(config.cursor ? { cursor: config.cursor } : {}),
        mode,
        runId,
        part: chunk.index,
      })
      progress.chunkWritten()
    } catch (error) {
      // Coded here, where the file being written is known.
      throw attemptError(error, where, partPath, request.signal, landing.active)
    } finally {
      await unlink(chunk.path).catch(() => undefined)
    }
  }
  const filter = predicates.length ? predicates.join(' AND ') : undefined
  const parallelism = Math.max(1, request.parallelism ?? 1)
  let csv: CsvStream | undefined
  let rows: number
  try {
    await mkdir(scratch, { recursive: true })
    const ranges = parallelism > 1 && source.splitRead && source.openSibling ? await source.splitRead(described, config.chunkRows, parallelism) : undefined
    if (ranges && ranges.length > 1) {
      rows = await readRanges({
        source, table: described, where: filter, ranges, parallelism, db, scratch,
        prepareConnection: (conn) => landing.prepare([conn]),
        readTimeoutMs: request.readTimeoutMs,
        ...(request.signal ? { signal: request.signal } : {}),
        context: where,
        // An empty range past the first adds no file; the first keeps an empty table's schema in the lake.
        convert: (conn, chunk) => (chunk.rows === 0 && chunk.index > 0 ? unlink(chunk.path).catch(() => undefined) : convert(conn, chunk)),
        onRows: (n) => progress.add(n),
      })
    } else {
      csv = await source.streamCsv(described, filter, config.chunkRows)
      // DuckDB loads while the first chunk streams in, not before the source may start.
      openSoon(db)
      const stream = csv
      const stop = (): void => void stream.close()
      rows = await chunkCsvBatches(
        guardReads(stream.batches, { readTimeoutMs: request.readTimeoutMs, context: where, giveUp: stop, ...(request.signal ? { signal: request.signal } : {}) }),
        scratch,
        config.chunkRows,
        (chunk) => convert(db, chunk),
        (n) => progress.add(n),
        // A failed conversion stops the source now instead of after the next chunk has streamed in.
        stop,
      )
    }
  } catch (error) {
    await removeAll(partPaths)
    throw attemptError(error, where, scratch, request.signal, landing.active)
  } finally {
    progress.done()
    request.signal?.removeEventListener('abort', interrupt)
    await csv?.close()
    await rm(scratch, { recursive: true, force: true })
  }

  // A cursor-range re-export does not move the watermark; nor does a run that found nothing new.
  let watermarkAfter: string | null
  try {
    watermarkAfter = request.cursorRange || !cursor ? watermarkBefore : await largestCursor(db, [watermarkBefore, ...cursorMaxima], cursor.duckType)
  } catch (error) {
    await removeAll(partPaths)
    throw attemptError(error, where, scratch, request.signal, landing.active)
  }
  const watermark: Watermark = {
    key: markKey,
    service,
    table: config.name,
    kind: mode === 'full' && !cursor ? 'export-full' : 'export-cursor',
    position: watermarkAfter,
    asOf: request.asOf,
  }
  files.sort((a, b) => (a.part ?? 0) - (b.part ?? 0))
  let result: Awaited<ReturnType<CommitLog['commit']>>
  try {
    if (request.signal?.aborted) throw request.signal.reason
    result = await log.commit({
      kind: 'export',
      runId,
      idempotencyKey: key,
      add: files,
      // Decided at the commit's own version: files a compaction (which does not move the watermark) put in
      // place meanwhile, even from another process, are replaced too.
      ...(mode === 'full' ? { replaceExportsOf: { service, table: config.name } } : {}),
      watermarks: request.cursorRange ? [] : [watermark],
      // One writer per table: if another run committed this table since it began here (same position or
      // not: its asOf differs), this commit is refused and the other run's files stay the active ones.
      expectWatermarks: { [markKey]: watermarkBefore },
      expectWatermarkAsOf: { [markKey]: previousMark?.asOf ?? null },
      info: { source: service, table: config.name, mode, rows },
    })
  } catch (error) {
    await removeAll(partPaths)
    throw attemptError(error, where, log.layout.logDir, request.signal)
  }
  return {
    mode,
    rows,
    bytes: files.reduce((n, f) => n + f.bytes, 0),
    files: result.commit.add,
    watermarkBefore,
    watermarkAfter,
    duplicate: result.duplicate,
  }
}

/**
 * The largest of cursor values as DuckDB rendered them, compared by DuckDB in the cursor's own type. Compared in
 * JavaScript (Date.parse, which stops at milliseconds), a newer cursor within the same millisecond as the
 * watermark did not move it, and every later run read its rows again.
 */
async function largestCursor(db: Database, values: (string | null)[], duckType: string): Promise<string | null> {
  const present = values.filter((v): v is string => v !== null)
  if (present.length <= 1) return present[0] ?? null
  const [row] = await db.all<{ m: string | null }>(`SELECT max(CAST(v AS ${duckType}))::VARCHAR AS m FROM (VALUES ${present.map((v) => `(${quoteLiteral(v)})`).join(', ')}) AS t(v)`)
  return row?.m ?? null
}

async function removeAll(paths: string[]): Promise<void> {
  await Promise.all(paths.map((path) => unlink(path).catch(() => undefined)))
}
