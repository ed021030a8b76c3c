import mysql from 'mysql2'
import { ColdpipeError } from '../../core/errors.ts'
import type { SourceConfig } from './export-config.ts'
import { describeMysqlColumns, mapMysqlColumn } from './mysql-types.ts'
import { MysqlCsvQuery, type MysqlCommandConnection } from './mysql-csv-query.ts'
import type { CsvStream, SourceConnector, SourceTable } from './source-connector.ts'
import { settleWithin } from './settle-within.ts'
import { sourceError } from './source-errors.ts'

function quoteIdent(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``
}

function quoteLiteral(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`
}

/**
 * A connection that hands every value over as the server's exact text (no floats for DECIMAL, no Date for
 * DATETIME). Its errors are taken by the caller's queries; the listener keeps a late one from being uncaught.
 */
export function createTextConnection(url: string, connectTimeoutMs: number): mysql.Connection {
  const connection = mysql.createConnection({
    uri: url,
    // Whatever the URL's `charset`: the rows are copied into the CSV as the server sends them, and DuckDB reads
    // UTF-8; a latin1 or utf8mb3 connection would send other bytes, or '?' for what it cannot hold.
    charset: 'UTF8MB4_UNICODE_CI',
    connectTimeout: connectTimeoutMs,
    typeCast: (field, next) => (field.type === 'GEOMETRY' ? next() : field.string()),
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
  })
  connection.on('error', () => undefined)
  return connection
}

/** A MySQL/MariaDB source: one connection, one consistent-snapshot read-only transaction, a streamed query. */
export class MysqlConnector implements SourceConnector {
  readonly kind = 'mysql' as const
  private constructor(
    private readonly sourceName: string,
    private readonly connection: mysql.Connection,
    private readonly database: string,
    private readonly readTimeoutMs: number,
  ) {}

  static async connect(sourceName: string, config: SourceConfig): Promise<MysqlConnector> {
    const connection = createTextConnection(config.url, config.connectTimeoutMs)
    const self = new MysqlConnector(sourceName, connection, '', config.readTimeoutMs)
    try {
      await self.query("SET time_zone = '+00:00'")
      const [row] = await self.query<{ db: string | null }>('SELECT DATABASE() AS db')
      const database = config.schema ?? row?.db
      if (!database) throw new ColdpipeError('CONFIG_INVALID', `source ${sourceName}: url names no database and schema is not set`, { context: { source: sourceName } })
      return new MysqlConnector(sourceName, connection, database, config.readTimeoutMs)
    } catch (error) {
      connection.destroy()
      throw sourceError(error, sourceName, 'cannot connect')
    }
  }

  quoteIdent = quoteIdent
  quoteLiteral = quoteLiteral

  hmacExpr(selectExpr: string, pads: { innerHex: string; outerHex: string }): string {
    // CONCAT with a binary argument is binary: the pad's bytes, then the text's utf8mb4 (UTF-8) bytes. NULL stays NULL.
    const pad = (hex: string): string => `UNHEX(${quoteLiteral(hex)})`
    return `SHA2(CONCAT(${pad(pads.outerHex)}, UNHEX(SHA2(CONCAT(${pad(pads.innerHex)}, CONVERT(${selectExpr} USING utf8mb4)), 256))), 256)`
  }

  lagPredicate(quotedColumn: string, watermark: string, lagSeconds: number): string {
    return `${quotedColumn} > TIMESTAMP(${quoteLiteral(watermark.replace(/([+-]\d\d(:\d\d)?)$/, ''))}) - INTERVAL ${Math.floor(lagSeconds)} SECOND`
  }

  private query<R>(sql: string, params: unknown[] = []): Promise<R[]> {
    return new Promise((resolve, reject) => {
      // A client-side limit: a statement on a stalled connection would otherwise wait forever.
      this.connection.query({ sql, values: params, timeout: this.readTimeoutMs }, (error: mysql.QueryError | null, rows: unknown) => {
        if (error) reject(sourceError(error, this.sourceName, 'query failed', { sql: sql.split('\n')[0] }))
        else resolve(rows as R[])
      })
    })
  }

  async listTables(): Promise<string[]> {
    const rows = await this.query<{ name: string }>(
      "SELECT TABLE_NAME AS name FROM information_schema.tables WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1",
      [this.database],
    )
    return rows.map((r) => r.name)
  }

  async describeTable(table: string): Promise<SourceTable> {
    const tables = await this.query<{ rows: string | null }>(
      'SELECT TABLE_ROWS AS `rows` FROM information_schema.tables WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
      [this.database, table],
    )
    if (tables.length === 0) {
      throw new ColdpipeError('EXPORT_TABLE_NOT_FOUND', `source ${this.sourceName}: table ${this.database}.${table} not found`, {
        context: { source: this.sourceName, schema: this.database, table },
      })
    }
    const infos = await describeMysqlColumns((sql, params) => this.query<Record<string, unknown>>(sql, params), this.database, table)
    return { name: table, columns: infos.map((info) => mapMysqlColumn(table, info)), estimatedRows: Number(tables[0]!.rows ?? 0) }
  }

  async beginConsistentRead(): Promise<string> {
    await this.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY')
    const [row] = await this.query<{ at: string }>('SELECT DATE_FORMAT(UTC_TIMESTAMP(6), "%Y-%m-%dT%H:%i:%s.%fZ") AS at')
    return new Date(row!.at).toISOString()
  }

  /**
   * A plain `SELECT <selectExpr, …>`, its rows turned into CSV from the packets' bytes (mysql-csv-query.ts):
   * the server sends each value as it would to the `mariadb` client, with no per-row CONCAT/REPLACE to
   * render a CSV line, and the driver builds no JavaScript value per field. Text arrives in the connection's
   * character set (utf8mb4: the server converts latin1 and other columns to it), binary columns as HEX().
   */
  async streamCsv(table: SourceTable, where: string | undefined, cutEveryRows: number): Promise<CsvStream> {
    const columns = table.columns.map((c) => c.selectExpr).join(', ')
    const select = `SELECT ${columns} FROM ${quoteIdent(this.database)}.${quoteIdent(table.name)}${where ? ` WHERE ${where}` : ''}`
    const source = this.sourceName
    const query = new MysqlCsvQuery(
      select,
      table.columns.map((c) => c.csvType === 'VARCHAR'),
      cutEveryRows,
      (error) => sourceError(error, source, `reading ${table.name} failed`, { table: table.name }),
    )
    // A failure can come after the reader stopped listening (its attempt already failed or was stopped): the
    // error stays on the stream (`errored`, what a later read gets), and must not surface as an uncaught
    // exception that takes the whole process down.
    query.on('error', () => undefined)
    const connection = this.connection
    // mysql2 tells the current command of a lost connection (onResult); these also cover a connection that
    // ends or fails while the command still waits in the queue.
    const failed = (error: Error): void => query.fail(error)
    const lost = (): void => failed(Object.assign(new Error('Connection lost: the server closed the connection'), { code: 'PROTOCOL_CONNECTION_LOST' }))
    const unlisten = (): void => {
      connection.off('error', failed)
      connection.off('end', lost)
    }
    connection.on('error', failed)
    connection.on('end', lost)
    query.once('close', unlisten)
    ;(connection as unknown as MysqlCommandConnection).addCommand(query)
    return {
      batches: query,
      close: async () => {
        unlisten()
        // Every row arrived: the statement is over, the connection stays usable.
        if (query.completed) {
          query.destroy()
          return
        }
        // Rows still arriving (or a paused socket) would hold the connection forever: any later statement
        // queues behind this one. Drop the connection; it is never reused.
        this.broken = true
        query.destroy()
        connection.destroy()
      },
    }
  }

  /** True once a read was cut short: the connection is gone. */
  private broken = false

  async close(): Promise<void> {
    // Ending the connection ends the read-only transaction; no ROLLBACK round trip that could hang.
    if (!this.broken) await settleWithin(new Promise<void>((resolve) => this.connection.end(() => resolve())), 5_000)
    this.connection.destroy()
  }
}
