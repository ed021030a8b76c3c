import { createRequire } from 'node:module'
import type { DuckDBConnection, DuckDBExtractedStatements, DuckDBPreparedStatement, DuckDBResultReader, DuckDBValue } from '@duckdb/node-api'
import { ColdpipeError, messageOf, type ErrorCode } from '../errors.ts'
import { jsonValueConverter } from './json-values.ts'
import { streamRowsJson, wrapErrors, type RowStream } from './stream-rows.ts'

type NodeApi = typeof import('@duckdb/node-api')
type DuckDBInstance = InstanceType<NodeApi['DuckDBInstance']>
let nodeApi: NodeApi | undefined
/**
 * DuckDB's module, loaded on first use rather than at import: loading its native library blocks the thread
 * for tens of milliseconds, which an export spends while its source already streams (deferred-database.ts).
 * Loaded with require, not import: Node's ESM loader first lexes every CommonJS file the package re-exports
 * (~180) for its export names, which costs more CPU than loading them (import 0.38-0.51 CPU-s against require
 * 0.14-0.20 at load 5): start-up of every command that opens DuckDB (docs/benchmarks.md, CLI).
 */
function duckdbApi(): NodeApi {
  return (nodeApi ??= createRequire(import.meta.url)('@duckdb/node-api') as NodeApi)
}

export type SqlParam = string | number | bigint | boolean | null | Date
export type SqlParams = readonly SqlParam[] | Record<string, SqlParam>

export interface ColumnInfo {
  name: string
  /** DuckDB's type name, e.g. `DECIMAL(10,2)`, `TIMESTAMP WITH TIME ZONE`. */
  type: string
}

export interface QueryResult<Row = Record<string, unknown>> {
  columns: ColumnInfo[]
  rows: Row[]
}

/**
 * The small surface the rest of coldpipe uses; nothing outside core/duckdb sees DuckDB's own types,
 * and every DuckDB failure crosses this boundary as a coded ColdpipeError.
 */
export interface Database {
  readonly path: string
  readonly readOnly: boolean
  run(sql: string, params?: SqlParams): Promise<void>
  /** Rows as JavaScript values: BIGINT as bigint, DECIMAL as number, TIMESTAMP as Date, BLOB as Uint8Array. */
  all<Row = Record<string, unknown>>(sql: string, params?: SqlParams): Promise<Row[]>
  /** Rows as JSON-safe values: BIGINT and DECIMAL as exact strings, temporals as ISO-like strings. */
  queryJson(sql: string, params?: SqlParams): Promise<QueryResult>
  /**
   * Like queryJson, but stops reading after `maxRows` rows (streaming), so a huge result is never
   * materialized; `truncated` says whether more rows existed.
   */
  queryJsonUpTo(sql: string, maxRows: number, params?: SqlParams): Promise<QueryResult & { truncated: boolean }>
  /** The result chunk by chunk, for streaming results of any size (see stream-rows.ts). */
  streamJson(sql: string, params?: SqlParams): Promise<RowStream>
  /**
   * One SELECT parsed and planned once, to run many times with different parameters on this connection
   * (queryJson with parameters parses and plans on every call). Closed with the connection at the latest.
   */
  prepare(sql: string): Promise<ReusableStatement>
  /** How many statements `sql` holds and the kind of the first (`SELECT`, `COPY`, `ATTACH`, ...), without running it. */
  inspectStatements(sql: string): Promise<StatementsInfo>
  /** The statements of `sql` as DuckDB's own parser splits them (a parse error throws); none is bound or run yet. */
  statements(sql: string): Promise<SqlStatements>
  /**
   * Another connection to the same open database (shares its cache and settings), for running queries
   * concurrently; closing it leaves this one open.
   */
  connect(): Promise<Database>
  /** Interrupts whatever this connection is running (used for query time limits). */
  interrupt(): void
  close(): void
}

export interface StatementsInfo {
  count: number
  /** DuckDB's statement type name of the first statement, e.g. `SELECT`, `VARIABLE_SET`. */
  firstKind: string
}

/** Statements split by DuckDB's parser. Prepare and run them in order: a later one may depend on an earlier one. */
export interface SqlStatements {
  readonly count: number
  /** Binds statement `index` (0-based); binding fails for unknown tables, refused file access and the like. */
  prepare(index: number): Promise<PreparedSql>
}

export interface PreparedSql {
  /** DuckDB's statement type name, e.g. `SELECT`, `COPY`, `LOAD` (also INSTALL), `ATTACH`. */
  readonly kind: string
  queryJson(): Promise<QueryResult>
  /** The result chunk by chunk (see stream-rows.ts): a reader that stops pulling stops the query. */
  streamJson(): Promise<RowStream>
  close(): void
}

/** A statement of `Database.prepare`: run it on its connection only, one run at a time. */
export interface ReusableStatement {
  queryJson(params?: SqlParams): Promise<QueryResult>
  close(): void
}

export interface OpenDatabaseOptions {
  readOnly?: boolean
  memoryLimit?: string
  threads?: number
  /** Extra DuckDB settings applied at start-up (e.g. sandboxing for ad-hoc SQL). */
  settings?: Record<string, string>
  /** Code used when a statement fails; callers pick the one that fits their stage. */
  errorCode?: ErrorCode
  /**
   * Folders readable even with `enable_external_access: 'false'` (a snapshot's views over its table files).
   * DuckDB takes this list only as a SET made before external access is switched off, not as a start-up option.
   */
  allowedDirectories?: string[]
}

/** Settings every coldpipe DuckDB gets: nothing is ever downloaded at run time. */
export const baseDuckDbSettings: Record<string, string> = {
  autoinstall_known_extensions: 'false',
  autoload_known_extensions: 'false',
}

function toDuckValues(params: SqlParams | undefined): DuckDBValue[] | Record<string, DuckDBValue> | undefined {
  if (params === undefined) return undefined
  const convert = (value: SqlParam): DuckDBValue => (value instanceof Date ? value.toISOString() : value)
  if (Array.isArray(params)) return params.map(convert)
  return Object.fromEntries(Object.entries(params).map(([key, value]) => [key, convert(value as SqlParam)]))
}

function firstLine(sql: string): string {
  const line = sql.trim().split('\n')[0] ?? ''
  return line.length > 160 ? `${line.slice(0, 160)}…` : line
}

/** Longest line of a DuckDB message kept whole; a CSV error quotes the offending line, which may be megabytes. */
const maxMessageLineChars = 2000

function shortenLongLines(message: string): string {
  if (message.length <= maxMessageLineChars) return message
  return message
    .split('\n')
    .map((line) => (line.length > maxMessageLineChars ? `${line.slice(0, maxMessageLineChars)}… (${line.length - maxMessageLineChars} more characters)` : line))
    .join('\n')
}

class DuckDbDatabase implements Database {
  constructor(
    readonly path: string,
    readonly readOnly: boolean,
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
    private readonly errorCode: ErrorCode,
    /** False for connections made by connect(): closing them must not close the shared instance. */
    private readonly ownsInstance = true,
  ) {}

  private wrap(error: unknown, sql: string): ColdpipeError {
    const message = shortenLongLines(messageOf(error))
    const code: ErrorCode = /read-only|read only mode/i.test(message) && this.readOnly ? 'WAREHOUSE_READ_ONLY' : this.errorCode
    // DuckDB says what kind of error it is only in its message's first words ("Conversion Error: …"): read once
    // here, at the boundary, so callers decide on a field (a refused value is not worth a retry, say).
    const kind = /^([A-Za-z][A-Za-z ]*?) Error:/.exec(message)?.[1]
    return new ColdpipeError(code, message, { cause: error, context: { database: this.path, sql: firstLine(sql), ...(kind ? { duckdbError: kind } : {}) } })
  }

  async run(sql: string, params?: SqlParams): Promise<void> {
    try {
      await this.connection.run(sql, toDuckValues(params))
    } catch (error) {
      throw this.wrap(error, sql)
    }
  }

  async all<Row = Record<string, unknown>>(sql: string, params?: SqlParams): Promise<Row[]> {
    try {
      const reader = await this.connection.runAndReadAll(sql, toDuckValues(params))
      return reader.getRowObjectsJS() as Row[]
    } catch (error) {
      throw this.wrap(error, sql)
    }
  }

  async queryJson(sql: string, params?: SqlParams): Promise<QueryResult> {
    try {
      return jsonResult(await this.connection.runAndReadAll(sql, toDuckValues(params)))
    } catch (error) {
      throw this.wrap(error, sql)
    }
  }

  async queryJsonUpTo(sql: string, maxRows: number, params?: SqlParams): Promise<QueryResult & { truncated: boolean }> {
    try {
      const reader = await this.connection.streamAndReadUntil(sql, maxRows + 1, toDuckValues(params))
      const names = reader.columnNames()
      const types = reader.columnTypes()
      const rows = reader.convertRowObjects(jsonValueConverter(duckdbApi())) as Record<string, unknown>[]
      return {
        columns: names.map((name, i) => ({ name, type: String(types[i]) })),
        rows: rows.length > maxRows ? rows.slice(0, maxRows) : rows,
        truncated: rows.length > maxRows,
      }
    } catch (error) {
      throw this.wrap(error, sql)
    }
  }

  async streamJson(sql: string, params?: SqlParams): Promise<RowStream> {
    try {
      const stream = await streamRowsJson(this.connection, sql, toDuckValues(params), jsonValueConverter(duckdbApi()))
      const wrap = (error: unknown): ColdpipeError => this.wrap(error, sql)
      return { columns: stream.columns, chunks: wrapErrors(stream.chunks, wrap) }
    } catch (error) {
      throw this.wrap(error, sql)
    }
  }

  async prepare(sql: string): Promise<ReusableStatement> {
    let prepared: DuckDBPreparedStatement
    try {
      prepared = await this.connection.prepare(sql)
    } catch (error) {
      throw this.wrap(error, sql)
    }
    return {
      queryJson: async (params) => {
        try {
          prepared.clearBindings()
          const values = toDuckValues(params)
          if (values) prepared.bind(values)
          return jsonResult(await prepared.runAndReadAll())
        } catch (error) {
          throw this.wrap(error, sql)
        }
      },
      close: () => prepared.destroySync(),
    }
  }

  async inspectStatements(sql: string): Promise<StatementsInfo> {
    try {
      const extracted = await this.connection.extractStatements(sql)
      if (extracted.count === 0) return { count: 0, firstKind: 'INVALID' }
      const prepared = await extracted.prepare(0)
      const kind = duckdbApi().StatementType[prepared.statementType] ?? String(prepared.statementType)
      prepared.destroySync()
      return { count: extracted.count, firstKind: kind }
    } catch (error) {
      throw this.wrap(error, sql)
    }
  }

  async statements(sql: string): Promise<SqlStatements> {
    let extracted: DuckDBExtractedStatements
    try {
      extracted = await this.connection.extractStatements(sql)
    } catch (error) {
      throw this.wrap(error, sql)
    }
    const text = sql
    return {
      count: extracted.count,
      prepare: async (index: number): Promise<PreparedSql> => {
        let prepared: DuckDBPreparedStatement
        try {
          prepared = await extracted.prepare(index)
        } catch (error) {
          throw this.wrap(error, text)
        }
        const read = async (reader: () => Promise<DuckDBResultReader>): Promise<QueryResult> => {
          try {
            return jsonResult(await reader())
          } catch (error) {
            throw this.wrap(error, text)
          }
        }
        return {
          kind: duckdbApi().StatementType[prepared.statementType] ?? String(prepared.statementType),
          queryJson: () => read(() => prepared.runAndReadAll()),
          streamJson: async () => {
            const wrap = (error: unknown): ColdpipeError => this.wrap(error, text)
            try {
              const result = await prepared.stream()
              const names = result.columnNames()
              const types = result.columnTypes()
              const chunks = result.yieldConvertedRows(jsonValueConverter(duckdbApi())) as AsyncIterable<unknown[][]>
              return { columns: names.map((name, i) => ({ name, type: String(types[i]) })), chunks: wrapErrors(chunks, wrap) }
            } catch (error) {
              throw wrap(error)
            }
          },
          close: () => prepared.destroySync(),
        }
      },
    }
  }

  async connect(): Promise<Database> {
    try {
      const connection = await this.instance.connect()
      return new DuckDbDatabase(this.path, this.readOnly, this.instance, connection, this.errorCode, false)
    } catch (error) {
      throw this.wrap(error, '(connect)')
    }
  }

  interrupt(): void {
    this.connection.interrupt()
  }

  close(): void {
    this.connection.closeSync()
    if (this.ownsInstance) this.instance.closeSync()
  }
}

/** A whole result as JSON-safe rows with its column names and DuckDB types. */
function jsonResult(reader: DuckDBResultReader): QueryResult {
  const names = reader.columnNames()
  const types = reader.columnTypes()
  return { columns: names.map((name, i) => ({ name, type: String(types[i]) })), rows: reader.convertRowObjects(jsonValueConverter(duckdbApi())) as Record<string, unknown>[] }
}

export async function openDatabase(path: string, options: OpenDatabaseOptions = {}): Promise<Database> {
  const readOnly = options.readOnly ?? false
  const settings: Record<string, string> = { ...baseDuckDbSettings, ...options.settings }
  if (readOnly) settings.access_mode = 'READ_ONLY'
  if (options.memoryLimit) settings.memory_limit = options.memoryLimit
  if (options.threads) settings.threads = String(options.threads)
  const errorCode = options.errorCode ?? 'WAREHOUSE_QUERY_FAILED'
  // A locked configuration would refuse the TimeZone below, so the lock is applied after it.
  const lockConfiguration = settings.lock_configuration === 'true'
  delete settings.lock_configuration
  const externalAccessOff = settings.enable_external_access === 'false' && (options.allowedDirectories?.length ?? 0) > 0
  if (externalAccessOff) delete settings.enable_external_access
  try {
    const instance = await duckdbApi().DuckDBInstance.create(path, settings)
    const connection = await instance.connect()
    // TimeZone belongs to the built-in icu extension, so it cannot be a start-up option; UTC keeps
    // timestamptz text identical on every machine.
    await connection.run("SET GLOBAL TimeZone = 'UTC'")
    if (externalAccessOff) {
      await connection.run(`SET GLOBAL allowed_directories = [${options.allowedDirectories!.map(quoteLiteral).join(', ')}]`)
      await connection.run('SET GLOBAL enable_external_access = false')
    }
    if (lockConfiguration) await connection.run('SET lock_configuration = true')
    return new DuckDbDatabase(path, readOnly, instance, connection, errorCode)
  } catch (error) {
    throw new ColdpipeError(errorCode, `cannot open DuckDB database ${path}: ${messageOf(error)}`, {
      cause: error,
      context: { database: path, readOnly },
    })
  }
}

/** Quotes an identifier for DuckDB SQL (table, column, schema names that come from data). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

/** Quotes a string literal, for file paths in COPY/read_parquet where parameters are not allowed. */
export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`
}
