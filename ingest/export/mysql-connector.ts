import { PassThrough } from 'node:stream'
import mysql from 'mysql2'
import { ColdpipeError } from '../../core/errors.ts'
import type { SourceConfig } from './export-config.ts'
import { mapMysqlColumn, type MysqlColumnInfo } from './mysql-types.ts'
import type { CsvBatch } from './csv-row-batches.ts'
import type { CsvStream, SourceColumn, SourceConnector, SourceTable } from './source-connector.ts'
import { sourceError } from './source-errors.ts'

function quoteIdent(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``
}

function quoteLiteral(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`
}

/**
 * The server renders each row as one CSV line, so the driver decodes one column per row instead of one
 * value per field: NULL is an empty unquoted field; text is quoted with `""` escapes, so '' stays apart
 * from NULL. Other types render without quotes, commas or newlines.
 */
function csvLineExpr(columns: SourceColumn[]): string {
  const fields = columns.map((c) =>
    c.csvType === 'VARCHAR' ? `IFNULL(CONCAT('"', REPLACE(CONVERT(${c.selectExpr} USING utf8mb4), '"', '""'), '"'), '')` : `IFNULL(${c.selectExpr}, '')`,
  )
  return `CONCAT(${fields.join(", ',', ")})`
}

const rowsPerBatch = 2_000
const newline = Buffer.from('\n')

/** A MySQL/MariaDB source: one connection, one consistent-snapshot read-only transaction, a streamed query. */
export class MysqlConnector implements SourceConnector {
  readonly kind = 'mysql' as const
  private constructor(
    private readonly sourceName: string,
    private readonly connection: mysql.Connection,
    private readonly database: string,
  ) {}

  static async connect(sourceName: string, config: SourceConfig): Promise<MysqlConnector> {
    const connection = mysql.createConnection({
      uri: config.url,
      connectTimeout: config.connectTimeoutMs,
      // Every value as the server's exact text: no floats for DECIMAL, no Date for DATETIME.
      typeCast: (field, next) => (field.type === 'GEOMETRY' ? next() : field.string()),
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
    })
    connection.on('error', () => undefined)
    const self = new MysqlConnector(sourceName, connection, '')
    try {
      await self.query("SET time_zone = '+00:00'")
      const [row] = await self.query<{ db: string | null }>('SELECT DATABASE() AS db')
      const database = config.schema ?? row?.db
      if (!database) throw new ColdpipeError('CONFIG_INVALID', `source ${sourceName}: url names no database and schema is not set`, { context: { source: sourceName } })
      return new MysqlConnector(sourceName, connection, database)
    } catch (error) {
      connection.destroy()
      throw sourceError(error, sourceName, 'cannot connect')
    }
  }

  quoteIdent = quoteIdent
  quoteLiteral = quoteLiteral

  lagPredicate(quotedColumn: string, watermark: string, lagSeconds: number): string {
    return `${quotedColumn} > TIMESTAMP(${quoteLiteral(watermark.replace(/([+-]\d\d(:\d\d)?)$/, ''))}) - INTERVAL ${Math.floor(lagSeconds)} SECOND`
  }

  private query<R>(sql: string, params: unknown[] = []): Promise<R[]> {
    return new Promise((resolve, reject) => {
      this.connection.query(sql, params, (error, rows) => {
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
    const columns = await this.query<{ name: string; dataType: string; columnType: string; precision: string | null; scale: string | null }>(
      `SELECT COLUMN_NAME AS name, DATA_TYPE AS dataType, COLUMN_TYPE AS columnType, NUMERIC_PRECISION AS \`precision\`, NUMERIC_SCALE AS scale
       FROM information_schema.columns WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
      [this.database, table],
    )
    let jsonColumns = new Set<string>()
    try {
      const checks = await this.query<{ clause: string }>(
        'SELECT CHECK_CLAUSE AS clause FROM information_schema.check_constraints WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?',
        [this.database, table],
      )
      jsonColumns = new Set(checks.map((c) => /^json_valid\(`(.+)`\)$/i.exec(c.clause.trim())?.[1]).filter((n): n is string => !!n))
    } catch {
      // MySQL before 8.0.16 has no check_constraints; its JSON type is reported as json anyway.
    }
    const infos: MysqlColumnInfo[] = columns.map((c) => ({
      name: c.name,
      dataType: c.dataType,
      columnType: c.columnType,
      precision: c.precision === null ? null : Number(c.precision),
      scale: c.scale === null ? null : Number(c.scale),
      isJson: jsonColumns.has(c.name) || c.dataType.toLowerCase() === 'json',
    }))
    return { name: table, columns: infos.map((info) => mapMysqlColumn(table, info)), estimatedRows: Number(tables[0]!.rows ?? 0) }
  }

  async beginConsistentRead(): Promise<string> {
    await this.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY')
    const [row] = await this.query<{ at: string }>('SELECT DATE_FORMAT(UTC_TIMESTAMP(6), "%Y-%m-%dT%H:%i:%s.%fZ") AS at')
    return new Date(row!.at).toISOString()
  }

  async streamCsv(table: SourceTable, where: string | undefined, cutEveryRows: number): Promise<CsvStream> {
    const select = `SELECT ${csvLineExpr(table.columns)} FROM ${quoteIdent(this.database)}.${quoteIdent(table.name)}${where ? ` WHERE ${where}` : ''}`
    const out = new PassThrough({ objectMode: true, highWaterMark: 8 })
    const connection = this.connection
    const source = this.sourceName
    let lines: Buffer[] = []
    let untilCut = cutEveryRows
    const flush = (): void => {
      if (lines.length === 0) return
      const batch: CsvBatch = { data: Buffer.concat(lines), rows: lines.length / 2 }
      lines = []
      // Back-pressure: stop reading the socket while the CSV side catches up.
      if (!out.write(batch)) {
        connection.pause()
        out.once('drain', () => connection.resume())
      }
    }
    // Row events rather than an async iterator per row: the per-row promise round trip was most of the cost.
    connection
      .query({ sql: select, rowsAsArray: true, typeCast: (field) => field.buffer() })
      .on('result', (row) => {
        lines.push((row as unknown as Buffer[])[0]!, newline)
        if (--untilCut === 0) {
          untilCut = cutEveryRows
          flush()
        } else if (lines.length >= rowsPerBatch * 2) flush()
      })
      .on('error', (error) => out.destroy(sourceError(error, source, `cannot read ${table.name}`, { table: table.name })))
      .on('end', () => {
        flush()
        out.end()
      })
    return {
      batches: out,
      close: () => {
        out.destroy()
        // The rest of the result is discarded by close(); resuming lets the driver drain it.
        connection.resume()
      },
    }
  }

  async close(): Promise<void> {
    await this.query('ROLLBACK').catch(() => undefined)
    await new Promise<void>((resolve) => this.connection.end(() => resolve()))
    this.connection.destroy()
  }
}
