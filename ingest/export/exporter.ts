import { DeferredDatabase, openDatabase, type Database } from '../../core/duckdb/index.ts'
import { ColdpipeError, isColdpipeError, messageOf } from '../../core/errors.ts'
import { childLogger, newRunId, silentLogger, type Logger } from '../../core/logger.ts'
import { CommitLog, removeStaleTemps } from '../../lake/index.ts'
import { exportTableDefaults, sourceDefaults, type ExportConfig, type ExportTableConfig, type SourceConfig } from './export-config.ts'
import { abortedError } from './read-guard.ts'
import { saveRunRecords } from './run-records.ts'
import { isSourceFault } from './source-errors.ts'
import { SourceGuard, type SourceHealth } from './source-guard.ts'
import { closePreconnected, preconnectSource, SourceSession } from './source-session.ts'
import type { SourceConnector } from './source-connector.ts'
import { exportTable } from './table-export.ts'
import type { ExportProgressListener } from './export-progress.ts'

export interface ExportRunRecord {
  runId: string
  source: string
  table: string
  mode: 'full' | 'incremental'
  status: 'committed' | 'duplicate' | 'failed'
  rows: number
  bytes: number
  files: string[]
  watermarkBefore: string | null
  watermarkAfter: string | null
  /** When the source's consistent read began (the watermark's asOf). */
  asOf: string | null
  startedAt: string
  durationMs: number
  error?: { code: string; message: string; context: Record<string, unknown> }
}

export interface RunExportOptions {
  runId?: string
  /** Backfill: export every row and replace earlier files, whatever each table's mode. */
  full?: boolean
  /** Re-export the rows whose cursor lies in [from, to]; the watermark does not move. */
  cursorRange?: { from: string; to: string }
  /** Only these tables of the export. */
  tables?: string[]
  logger?: Logger
  /**
   * Stops the run promptly when it fires (job deadline, shutdown): the source's read and connection are
   * closed, temps removed, and every table not committed yet is recorded failed with EXPORT_ABORTED.
   */
  signal?: AbortSignal
  /** Rows read per table as the read goes, for a progress display (about 5 events a second per table). */
  onProgress?: ExportProgressListener
}

export interface ExporterOptions {
  sources: Record<string, Partial<SourceConfig> & Pick<SourceConfig, 'kind' | 'url'>>
  /** Export definitions from config, used when runExport is given a source name. */
  exports?: ExportConfig[]
  lakeRoot: string
  logger?: Logger
  duckdb?: { memoryLimit?: string; threads?: number }
  /** Retry + breaker per source; shared with whoever else talks to the sources. Default: one over `sources`, recording breaker state in the lake. */
  guard?: SourceGuard
}

export interface Exporter {
  runExport(target: ExportConfig | string, options?: RunExportOptions): Promise<ExportRunRecord[]>
  /**
   * Starts, in the background, what the next run of `source` opens first: a connection to the source (not
   * while its breaker is open), so it overlaps with the caller's own work before that run (a one-shot
   * command's job lease and run record). The connection is taken by the next runExport of the source, or
   * closed by close(). DuckDB is not opened here: it loads once the first table's rows stream.
   */
  warmUp(source: string): void
  getSourceHealth(): SourceHealth[]
  close(): Promise<void>
}

/** Scratch files older than this are a crashed run's leftovers. */
const staleTempMs = 60 * 60 * 1000

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')
  return new RegExp(`^${body}$`)
}

function withTableDefaults(table: Partial<ExportTableConfig> & { name: string }): ExportTableConfig {
  return { mode: exportTableDefaults.mode, lagSeconds: exportTableDefaults.lagSeconds, chunkRows: exportTableDefaults.chunkRows, ...table }
}

export function createExporter(options: ExporterOptions): Exporter {
  const baseLogger = options.logger ?? silentLogger
  const sources = new Map<string, SourceConfig>(
    Object.entries(options.sources).map(([name, config]) => [name, { ...sourceDefaults, ...config } as SourceConfig]),
  )
  const guard = options.guard ?? new SourceGuard({ sources: Object.fromEntries(sources), logger: baseLogger, lakeRoot: options.lakeRoot })
  let db: Promise<Database> | undefined
  const warm = new Map<string, Promise<SourceConnector>>()
  const duckdb = (): Promise<Database> =>
    (db ??= openDatabase(':memory:', {
      memoryLimit: options.duckdb?.memoryLimit ?? '256MB',
      threads: options.duckdb?.threads ?? 2,
      errorCode: 'EXPORT_FAILED',
      // Row order inside a chunk file means nothing (a chunk holds each key once); without it DuckDB encodes
      // row groups in parallel with less buffering: about 10 % faster on two cores.
      settings: { preserve_insertion_order: 'false' },
    }))

  async function runExport(target: ExportConfig | string, runOptions: RunExportOptions = {}): Promise<ExportRunRecord[]> {
    const exportConfig = typeof target === 'string' ? findExport(target) : target
    const service = exportConfig.source
    const sourceConfig = sources.get(service)
    if (!sourceConfig) {
      throw new ColdpipeError('SOURCE_UNKNOWN', `export names source "${service}", which is not configured`, { context: { source: service } })
    }
    const runId = runOptions.runId ?? newRunId('export')
    const logger = childLogger(runOptions.logger ?? baseLogger, { runId, source: service })
    const signal = runOptions.signal
    // The source's connect (round trips, the server starting a session) runs while the log and DuckDB open.
    const session = new SourceSession(service, sourceConfig, takeWarm(service) ?? connectAhead(service, sourceConfig))
    let log: CommitLog
    let database: Database
    try {
      log = await CommitLog.open(options.lakeRoot, { logger })
      await removeStaleTemps(log.layout.tmpDir, staleTempMs)
      // A connection of its own per run, so runs of different sources convert concurrently. Opened once a
      // table's rows stream (exportTable calls openSoon): the source never waits for DuckDB to load.
      database = new DeferredDatabase(':memory:', false, async () => (await duckdb()).connect())
    } catch (error) {
      await session.close()
      throw error
    }
    // Abort tears the connection down at once: a statement in flight fails instead of running on.
    const onAbort = (): void => void session.discard()
    signal?.addEventListener('abort', onAbort, { once: true })
    const records: ExportRunRecord[] = []
    const runStarted = Date.now()
    let ended = false
    try {
      let tables: ExportTableConfig[]
      try {
        tables = await listTables(exportConfig, session, runOptions.tables, guard, signal)
      } catch (error) {
        const failure = signal?.aborted ? abortedError({ source: service }, signal) : error
        logger.error({ err: messageOf(failure), code: codeOf(failure) }, 'export source failed')
        const configured = (exportConfig.tables?.map(withTableDefaults) ?? []).filter((t) => !runOptions.tables || runOptions.tables.includes(t.name))
        const failed = configured.length ? configured : [withTableDefaults({ name: '*' })]
        records.push(...failed.map((t) => failedRecord(runId, service, t, runStarted, null, failure)))
        tables = []
      }
      for (const table of tables) {
        records.push(await exportOneTable(table))
      }
      ended = true
    } finally {
      signal?.removeEventListener('abort', onAbort)
      database.close()
      if (!ended) await session.close()
    }
    // The source's session ends while the run's records are written: neither waits for the other.
    await Promise.all([session.close(), saveRunRecords(log.layout, service, runId, records, sourceConfig.keepRunRecords, logger)])
    return records

    async function exportOneTable(table: ExportTableConfig): Promise<ExportRunRecord> {
      const started = Date.now()
      let asOf: string | null = null
      try {
        if (signal?.aborted) throw abortedError({ source: service, table: table.name }, signal)
        // Each attempt on a healthy connection; a source fault is thrown to the guard (retried with backoff,
        // counted by the breaker), anything else is handed back as the table's result, not retried.
        const attempt = await guard.execute(service, async () => {
          const read = await session.open()
          asOf = read.asOf
          try {
            return {
              outcome: await exportTable(read.connector, database, log, {
                service,
                runId,
                table,
                forceFull: runOptions.full === true,
                ...(runOptions.cursorRange ? { cursorRange: runOptions.cursorRange } : {}),
                asOf: read.asOf,
                readTimeoutMs: sourceConfig!.readTimeoutMs,
                parallelism: Math.min(table.parallelism ?? 1, sourceConfig!.maxConnections),
                ...(signal ? { signal } : {}),
                ...(runOptions.onProgress ? { onProgress: runOptions.onProgress } : {}),
              }, logger),
            }
          } catch (error) {
            // Whatever failed mid-table, the connection may be mid-statement or dead: never reuse it.
            await session.discard()
            const coded = signal?.aborted ? abortedError({ source: service, table: table.name }, signal) : error
            if (isSourceFault(coded)) {
              logger.warn({ table: table.name, err: messageOf(coded), code: codeOf(coded) }, 'export table attempt failed on the source')
              throw coded
            }
            return { error: coded }
          }
        }, signal)
        if ('error' in attempt) throw attempt.error
        const outcome = attempt.outcome
        logger.info({ table: table.name, rows: outcome.rows, bytes: outcome.bytes, duplicate: outcome.duplicate, asOf }, 'export table committed')
        return {
          runId, source: service, table: table.name, mode: outcome.mode,
          status: outcome.duplicate ? 'duplicate' : 'committed',
          rows: outcome.rows, bytes: outcome.bytes, files: outcome.files.map((f) => f.path),
          watermarkBefore: outcome.watermarkBefore, watermarkAfter: outcome.watermarkAfter,
          asOf, startedAt: new Date(started).toISOString(), durationMs: Date.now() - started,
        }
      } catch (error) {
        const failure = signal?.aborted ? abortedError({ source: service, table: table.name }, signal) : error
        logger.error({ table: table.name, err: messageOf(failure), code: codeOf(failure) }, 'export table failed')
        return failedRecord(runId, service, table, started, asOf, failure)
      }
    }
  }

  function findExport(source: string): ExportConfig {
    const found = options.exports?.find((e) => e.source === source)
    if (found) return found
    if (sources.has(source)) return { source, timezone: 'UTC' }
    throw new ColdpipeError('SOURCE_UNKNOWN', `no export and no source named "${source}" in config`, { context: { source } })
  }

  /** An early connect to the source, unless its breaker refuses calls (the run then fails fast, as before, without connecting). */
  function connectAhead(source: string, sourceConfig: SourceConfig): Promise<SourceConnector> | undefined {
    const state = guard.getSourceHealth().find((h) => h.source === source)?.state
    return state === 'open' || state === 'isolated' ? undefined : preconnectSource(source, sourceConfig)
  }

  function takeWarm(source: string): Promise<SourceConnector> | undefined {
    const early = warm.get(source)
    warm.delete(source)
    return early
  }

  function warmUp(source: string): void {
    const sourceConfig = sources.get(source)
    if (!sourceConfig) return
    const early = warm.has(source) ? undefined : connectAhead(source, sourceConfig)
    if (early) warm.set(source, early)
  }

  return {
    runExport,
    warmUp,
    getSourceHealth: () => guard.getSourceHealth(),
    async close() {
      const unused = [...warm.values()]
      warm.clear()
      await Promise.all(unused.map(closePreconnected))
      if (!options.guard) await guard.close()
      if (db) (await db).close()
      db = undefined
    },
  }
}

/** The run's tables: the configured list, or the source's tables matching include/exclude (read under the guard). */
async function listTables(exportConfig: ExportConfig, session: SourceSession, only: string[] | undefined, guard: SourceGuard, signal: AbortSignal | undefined): Promise<ExportTableConfig[]> {
  let tables: ExportTableConfig[]
  if (exportConfig.tables) {
    tables = exportConfig.tables.map(withTableDefaults)
  } else {
    const include = (exportConfig.include ?? ['*']).map(globToRegExp)
    const exclude = (exportConfig.exclude ?? []).map(globToRegExp)
    const names = await guard.execute(exportConfig.source, async () => {
      try {
        return await (await session.connector()).listTables()
      } catch (error) {
        await session.discard()
        throw error
      }
    }, signal)
    tables = names
      .filter((name) => include.some((re) => re.test(name)) && !exclude.some((re) => re.test(name)))
      .map((name) => withTableDefaults({ name }))
  }
  if (only) {
    for (const name of only) {
      if (!tables.some((t) => t.name === name)) {
        throw new ColdpipeError('EXPORT_TABLE_NOT_FOUND', `source ${exportConfig.source}: table ${name} is not part of this export`, {
          context: { source: exportConfig.source, table: name },
        })
      }
    }
    tables = tables.filter((t) => only.includes(t.name))
  }
  return tables
}

function codeOf(error: unknown): string {
  return isColdpipeError(error) ? error.code : 'EXPORT_FAILED'
}

function failedRecord(runId: string, source: string, table: ExportTableConfig, started: number, asOf: string | null, error: unknown): ExportRunRecord {
  const coded = isColdpipeError(error)
    ? error
    : new ColdpipeError('EXPORT_FAILED', `source ${source}, table ${table.name}: ${messageOf(error)}`, { cause: error, context: { source, table: table.name } })
  return {
    runId, source, table: table.name, mode: table.mode, status: 'failed', rows: 0, bytes: 0, files: [],
    watermarkBefore: null, watermarkAfter: null, asOf, startedAt: new Date(started).toISOString(), durationMs: Date.now() - started,
    error: { code: coded.code, message: coded.message, context: coded.context },
  }
}
