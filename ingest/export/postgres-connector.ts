import pg from 'pg'
import { to as copyTo } from 'pg-copy-streams'
import { ColdpipeError } from '../../core/errors.ts'
import type { SourceConfig } from './export-config.ts'
import { mapPostgresColumn, type PgAttribute } from './postgres-types.ts'
import { csvRowBatches, type CsvBatch } from './csv-row-batches.ts'
import { settleWithin } from './settle-within.ts'
import type { CsvStream, SourceConnector, SourceTable } from './source-connector.ts'
import { sourceError } from './source-errors.ts'

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`
}

/** A Postgres source: one connection, reads in one REPEATABLE READ READ ONLY transaction, rows via COPY TO STDOUT. */
export class PostgresConnector implements SourceConnector {
  readonly kind = 'postgres' as const
  private constructor(
    private readonly sourceName: string,
    private readonly client: pg.Client,
    private readonly schema: string,
    private readonly readTimeoutMs: number,
  ) {}

  static async connect(sourceName: string, config: SourceConfig): Promise<PostgresConnector> {
    const client = new pg.Client({ connectionString: config.url, connectionTimeoutMillis: config.connectTimeoutMs })
    // A dropped connection surfaces as an error on the client; without a listener it would crash the process.
    client.on('error', () => undefined)
    try {
      await client.connect()
      // Exact, machine-independent text: ISO dates, UTC offsets, shortest-exact floats.
      await client.query({
        text: "SET DateStyle = 'ISO, YMD'; SET TimeZone = 'UTC'; SET IntervalStyle = 'iso_8601'; SET extra_float_digits = 1",
        query_timeout: config.readTimeoutMs,
      } as pg.QueryConfig)
    } catch (error) {
      destroySocket(client)
      await client.end().catch(() => undefined)
      throw sourceError(error, sourceName, 'cannot connect')
    }
    return new PostgresConnector(sourceName, client, config.schema ?? 'public', config.readTimeoutMs)
  }

  quoteIdent = quoteIdent
  quoteLiteral = quoteLiteral

  lagPredicate(quotedColumn: string, watermark: string, lagSeconds: number): string {
    return `${quotedColumn} > ${quoteLiteral(watermark)}::timestamptz - make_interval(secs => ${Math.floor(lagSeconds)})`
  }

  private async query<R extends pg.QueryResultRow>(sql: string, params: unknown[] = [], what = 'query failed'): Promise<R[]> {
    try {
      // A client-side limit: a statement on a stalled connection would otherwise wait forever.
      return (await this.client.query<R>({ text: sql, values: params, query_timeout: this.readTimeoutMs } as pg.QueryConfig)).rows
    } catch (error) {
      throw sourceError(error, this.sourceName, what, { sql: sql.split('\n')[0] })
    }
  }

  async listTables(): Promise<string[]> {
    const rows = await this.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1`,
      [this.schema],
      'cannot list tables',
    )
    return rows.map((r) => r.name)
  }

  async describeTable(table: string): Promise<SourceTable> {
    const rel = await this.query<{ oid: number; reltuples: number }>(
      `SELECT c.oid, c.reltuples::float8 AS reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'm')`,
      [this.schema, table],
      `cannot describe ${table}`,
    )
    if (rel.length === 0) {
      throw new ColdpipeError('EXPORT_TABLE_NOT_FOUND', `source ${this.sourceName}: table ${this.schema}.${table} not found`, {
        context: { source: this.sourceName, schema: this.schema, table },
      })
    }
    const attrs = await this.query<PgAttribute>(
      `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS formatted, t.typname, t.typtype,
              et.typname AS "elemTypname", et.typtype AS "elemTyptype", a.atttypmod AS typmod, bt.typname AS "baseTypname"
       FROM pg_attribute a
       JOIN pg_type t ON t.oid = a.atttypid
       LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'
       LEFT JOIN pg_type bt ON bt.oid = t.typbasetype AND t.typtype = 'd'
       WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
      [rel[0]!.oid],
      `cannot describe ${table}`,
    )
    return {
      name: table,
      columns: attrs.map((attr) => mapPostgresColumn(table, attr)),
      estimatedRows: Math.max(0, Number(rel[0]!.reltuples)),
    }
  }

  async beginConsistentRead(): Promise<string> {
    await this.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', [], 'cannot begin the consistent read')
    // now() is the transaction's start; the snapshot is taken by the first statement, this one.
    const rows = await this.query<{ at: Date }>('SELECT now() AS at', [], 'cannot begin the consistent read')
    return rows[0]!.at.toISOString()
  }

  async streamCsv(table: SourceTable, where: string | undefined, cutEveryRows: number): Promise<CsvStream> {
    const select = `SELECT ${table.columns.map((c) => c.selectExpr).join(', ')} FROM ${quoteIdent(this.schema)}.${quoteIdent(table.name)}${where ? ` WHERE ${where}` : ''}`
    const source = this.sourceName
    let stream: ReturnType<typeof copyTo>
    try {
      stream = this.client.query(copyTo(`COPY (${select}) TO STDOUT (FORMAT csv)`))
    } catch (error) {
      throw sourceError(error, source, `cannot read ${table.name}`, { table: table.name })
    }
    // Dropping the connection of a read cut short makes pg fail the COPY again, after its reader is gone: the
    // error stays on the stream (a reader still gets it) instead of escaping as an uncaught exception.
    stream.on('error', () => undefined)
    let finished = false
    // The COPY stream reports a lost connection or a terminated backend as a raw driver error; code it here,
    // naming the table, so the exporter can tell a source fault (retried) from anything else.
    const batches = async function* (): AsyncGenerator<CsvBatch> {
      try {
        yield* csvRowBatches(stream, cutEveryRows)
        finished = true
      } catch (error) {
        throw sourceError(error, source, `reading ${table.name} failed`, { table: table.name })
      }
    }
    return {
      batches: batches(),
      close: async () => {
        if (finished) return
        // A COPY cut short is still running on the connection and nobody reads its socket: any later
        // statement (even ROLLBACK) would queue behind it forever. Drop the connection; it is never reused.
        this.broken = true
        stream.destroy()
        destroySocket(this.client)
      },
    }
  }

  /** True once a read was cut short: the connection is gone. */
  private broken = false

  async close(): Promise<void> {
    // Ending the connection ends the read-only transaction; no ROLLBACK round trip that could hang.
    if (this.broken) destroySocket(this.client)
    await settleWithin(this.client.end(), 5_000)
    destroySocket(this.client)
  }
}

function destroySocket(client: pg.Client): void {
  ;(client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy()
}
