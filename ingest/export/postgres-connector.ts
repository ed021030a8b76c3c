import pg from 'pg'
import { ColdpipeError } from '../../core/errors.ts'
import type { SourceConfig } from './export-config.ts'
import { mapPostgresColumn, pgAttributesSql, type PgAttribute } from './postgres-types.ts'
import type { CsvBatch } from './source-connector.ts'
import { CopyRows } from './pg-copy-rows.ts'
import { copyStatement, quotePgIdent as quoteIdent } from './pg-copy-statement.ts'
import { settleWithin } from './settle-within.ts'
import type { CsvStream, SourceConnector, SourceTable } from './source-connector.ts'
import { sourceError } from './source-errors.ts'

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
    private readonly config: SourceConfig,
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
    return new PostgresConnector(sourceName, client, config.schema ?? 'public', config.readTimeoutMs, config)
  }

  quoteIdent = quoteIdent
  quoteLiteral = quoteLiteral

  hmacExpr(selectExpr: string, pads: { innerHex: string; outerHex: string }): string {
    // sha256(bytea) is built in since PostgreSQL 11; `||` of a NULL bytea is NULL, so NULL stays NULL.
    const pad = (hex: string): string => `decode(${quoteLiteral(hex)}, 'hex')`
    return `encode(sha256(${pad(pads.outerHex)} || sha256(${pad(pads.innerHex)} || convert_to((${selectExpr})::text, 'UTF8'))), 'hex')`
  }

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
    const rel = await this.query<{ oid: number; reltuples: number; relkind: string }>(
      `SELECT c.oid, c.reltuples::float8 AS reltuples, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
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
      pgAttributesSql,
      [rel[0]!.oid],
      `cannot describe ${table}`,
    )
    return {
      name: table,
      columns: attrs.map((attr) => mapPostgresColumn(table, attr)),
      estimatedRows: Math.max(0, Number(rel[0]!.reltuples)),
      plainTable: rel[0]!.relkind === 'r',
    }
  }

  async beginConsistentRead(): Promise<string> {
    await this.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', [], 'cannot begin the consistent read')
    // now() is the transaction's start; the snapshot is taken by the first statement, this one.
    const rows = await this.query<{ at: Date }>('SELECT now() AS at', [], 'cannot begin the consistent read')
    return rows[0]!.at.toISOString()
  }

  /** The snapshot of this connection's consistent read, exported for siblings (valid while it stays open). */
  private snapshotId: Promise<string> | undefined

  async openSibling(): Promise<PostgresConnector> {
    this.snapshotId ??= this.query<{ id: string }>('SELECT pg_export_snapshot() AS id', [], 'cannot export the snapshot').then((rows) => rows[0]!.id)
    const id = await this.snapshotId
    const sibling = await PostgresConnector.connect(this.sourceName, this.config)
    try {
      await sibling.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', [], 'cannot begin the consistent read')
      // The first statement of the transaction: from here on it sees exactly what this connection sees.
      await sibling.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(id)}`, [], 'cannot share the snapshot')
      return sibling
    } catch (error) {
      await sibling.close()
      throw error
    }
  }

  /**
   * Ranges of physical pages (TID ranges, PostgreSQL 14+) of about `chunkRows` rows each, by the planner's
   * rows-per-page estimate; the last range is open-ended, so pages added after the estimate are read too. At
   * least `minRanges` ranges when the table has that many pages. Only plain tables: a view, a partitioned
   * table or an older server is read as one stream.
   */
  async splitRead(table: SourceTable, chunkRows: number, minRanges: number): Promise<string[] | undefined> {
    const [info] = await this.query<{ relkind: string; relpages: number; reltuples: number; pages: number; version: number }>(
      `SELECT c.relkind, c.relpages, c.reltuples::float8 AS reltuples, (pg_relation_size(c.oid) / current_setting('block_size')::int)::int AS pages,
              current_setting('server_version_num')::int AS version
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
      [this.schema, table.name],
      `cannot plan the read of ${table.name}`,
    )
    if (!info || info.relkind !== 'r' || info.version < 140_000) return undefined
    const rowsPerPage = info.relpages > 0 && info.reltuples > 0 ? info.reltuples / info.relpages : 50
    const pages = Math.max(1, info.pages)
    const perRange = Math.max(1, Math.min(Math.ceil(chunkRows / rowsPerPage), Math.ceil(pages / minRanges)))
    const ranges: string[] = []
    for (let from = 0; from < pages; from += perRange) {
      const lower = from === 0 ? undefined : `ctid >= '(${from},0)'::tid`
      const upper = from + perRange >= pages ? undefined : `ctid < '(${from + perRange},0)'::tid`
      ranges.push([lower, upper].filter(Boolean).join(' AND ') || 'true')
    }
    return ranges
  }

  async streamCsv(table: SourceTable, where: string | undefined, cutEveryRows: number): Promise<CsvStream> {
    const copy = copyStatement(`${quoteIdent(this.schema)}.${quoteIdent(table.name)}`, table.columns, where, table.plainTable === true)
    const source = this.sourceName
    let stream: CopyRows
    try {
      stream = this.client.query(new CopyRows(copy, cutEveryRows))
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
        yield* stream as AsyncIterable<CsvBatch>
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
