import { join } from 'node:path'
import { openDatabase, type Database } from '../../core/duckdb/index.ts'
import { ColdpipeError, isColdpipeError, messageOf } from '../../core/errors.ts'
import { newRunId, silentLogger, type Logger } from '../../core/logger.ts'
import { CommitLog, removeStaleTemps, writeFileAtomic } from '../../lake/index.ts'
import { exportTableDefaults, sourceDefaults, type ExportConfig, type ExportTableConfig, type SourceConfig } from './export-config.ts'
import { PostgresConnector } from './postgres-connector.ts'
import { MysqlConnector } from './mysql-connector.ts'
import { SourceGuard, type SourceHealth } from './source-guard.ts'
import type { SourceConnector } from './source-connector.ts'
import { exportTable } from './table-export.ts'

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

async function connect(name: string, config: SourceConfig): Promise<SourceConnector> {
  return config.kind === 'postgres' ? PostgresConnector.connect(name, config) : MysqlConnector.connect(name, config)
}

export function createExporter(options: ExporterOptions): Exporter {
  const baseLogger = options.logger ?? silentLogger
  const sources = new Map<string, SourceConfig>(
    Object.entries(options.sources).map(([name, config]) => [name, { ...sourceDefaults, ...config } as SourceConfig]),
  )
  const guard = options.guard ?? new SourceGuard({ sources: Object.fromEntries(sources), logger: baseLogger, lakeRoot: options.lakeRoot })
  let db: Promise<Database> | undefined
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
    const logger = (runOptions.logger ?? baseLogger).child({ runId, source: service })
    const log = await CommitLog.open(options.lakeRoot)
    await removeStaleTemps(log.layout.tmpDir, staleTempMs)
    // A connection of its own per run, so runs of different sources convert concurrently.
    const database = await (await duckdb()).connect()
    const records = new Map<string, ExportRunRecord>()
    const startedAt = new Date().toISOString()
    let failure: unknown
    try {
      await guard.execute(service, async () => {
        const connector = await connect(service, sourceConfig)
        try {
          const tables = await selectTables(exportConfig, connector, runOptions.tables)
          const asOf = await connector.beginConsistentRead()
          for (const table of tables) {
            if (records.has(table.name)) continue
            const started = Date.now()
            try {
              const outcome = await exportTable(connector, database, log, {
                service,
                runId,
                table,
                forceFull: runOptions.full === true,
                ...(runOptions.cursorRange ? { cursorRange: runOptions.cursorRange } : {}),
                asOf,
              }, logger)
              records.set(table.name, {
                runId, source: service, table: table.name, mode: outcome.mode,
                status: outcome.duplicate ? 'duplicate' : 'committed',
                rows: outcome.rows, bytes: outcome.bytes, files: outcome.files.map((f) => f.path),
                watermarkBefore: outcome.watermarkBefore, watermarkAfter: outcome.watermarkAfter,
                asOf, startedAt: new Date(started).toISOString(), durationMs: Date.now() - started,
              })
              logger.info({ table: table.name, rows: outcome.rows, bytes: outcome.bytes, duplicate: outcome.duplicate }, 'export table committed')
            } catch (error) {
              // A dropped connection fails the whole attempt (retried from here on a new snapshot);
              // anything else fails only this table, and the others go on.
              if (isColdpipeError(error) && error.canRetry && (error.code === 'SOURCE_CONNECT_FAILED' || error.code === 'SOURCE_QUERY_FAILED')) throw error
              records.set(table.name, failedRecord(runId, service, table, started, asOf, error))
              logger.error({ table: table.name, err: messageOf(error) }, 'export table failed')
            }
          }
        } finally {
          await connector.close()
        }
      })
    } catch (error) {
      failure = error
      logger.error({ err: messageOf(error) }, 'export source failed')
    }
    const result = [...records.values()]
    if (failure !== undefined) {
      const tables = exportConfig.tables?.map(withTableDefaults) ?? []
      const pending = tables.filter((t) => !records.has(t.name) && (!runOptions.tables || runOptions.tables.includes(t.name)))
      const failed = pending.length ? pending.map((t) => failedRecord(runId, service, t, Date.parse(startedAt), null, failure)) : [failedRecord(runId, service, withTableDefaults({ name: '*' }), Date.parse(startedAt), null, failure)]
      result.push(...failed)
    }
    database.close()
    for (const record of result) {
      await writeFileAtomic(log.layout.tmpDir, join(log.layout.stateDir, 'export-runs', runId, `${service}.${record.table === '*' ? '_all' : record.table}.json`), JSON.stringify(record, null, 2))
    }
    return result
  }

  function findExport(source: string): ExportConfig {
    const found = options.exports?.find((e) => e.source === source)
    if (found) return found
    if (sources.has(source)) return { source, timezone: 'UTC' }
    throw new ColdpipeError('SOURCE_UNKNOWN', `no export and no source named "${source}" in config`, { context: { source } })
  }

  return {
    runExport,
    getSourceHealth: () => guard.getSourceHealth(),
    async close() {
      if (!options.guard) await guard.close()
      if (db) (await db).close()
      db = undefined
    },
  }
}

async function selectTables(exportConfig: ExportConfig, connector: SourceConnector, only: string[] | undefined): Promise<ExportTableConfig[]> {
  let tables: ExportTableConfig[]
  if (exportConfig.tables) {
    tables = exportConfig.tables.map(withTableDefaults)
  } else {
    const include = (exportConfig.include ?? ['*']).map(globToRegExp)
    const exclude = (exportConfig.exclude ?? []).map(globToRegExp)
    tables = (await connector.listTables())
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

function failedRecord(runId: string, source: string, table: ExportTableConfig, started: number, asOf: string | null, error: unknown): ExportRunRecord {
  const coded = isColdpipeError(error) ? error : new ColdpipeError('EXPORT_FAILED', messageOf(error), { cause: error })
  return {
    runId, source, table: table.name, mode: table.mode, status: 'failed', rows: 0, bytes: 0, files: [],
    watermarkBefore: null, watermarkAfter: null, asOf, startedAt: new Date(started).toISOString(), durationMs: Date.now() - started,
    error: { code: coded.code, message: coded.message, context: coded.context },
  }
}
