import mysql from 'mysql2'
import pg from 'pg'
import { ColdpipeError } from '../../core/errors.ts'
import type { SourceConfig } from '../../ingest/export/export-config.ts'
import { createTextConnection } from '../../ingest/export/mysql-connector.ts'
import { describeMysqlColumns, mapMysqlColumn } from '../../ingest/export/mysql-types.ts'
import { mapPostgresColumn, pgAttributesSql, type PgAttribute } from '../../ingest/export/postgres-types.ts'
import { settleWithin } from '../../ingest/export/settle-within.ts'
import type { SourceColumn } from '../../ingest/export/source-connector.ts'
import { sourceError } from '../../ingest/export/source-errors.ts'
import { sourceDialect, type Dialect } from './canonical-sql.ts'

export interface ReconcileSourceOptions {
  /** Where to read: the replica's URL when one is configured, else the source's own. */
  url: string
  /** Least time between two statements on the source (its rate limit); 0 for none. */
  minQueryIntervalMs: number
}

/** Rows as text: every value the driver returns as the server's exact string. */
export type TextRow = Record<string, string | null>

/**
 * One read-only connection to a source for reconciliation, with one consistent snapshot for all its
 * statements (REPEATABLE READ / WITH CONSISTENT SNAPSHOT), so the totals, the segments and the rows fetched
 * later all see the same state. Only aggregates and the rows of small differing segments cross the network.
 */
export class ReconcileSource {
  readonly dialect: Dialect
  /** Rows the source sent back: aggregate rows and fetched rows, for the bounded-cost report. */
  readonly transferred = { aggregateRows: 0, rows: 0, keys: 0, queries: 0 }
  private lastQueryAt = 0
  /** Further connections in the same snapshot (PostgreSQL), for splitting the first pass; see `withWorkers`. */
  private workers: pg.Client[] = []

  private constructor(
    readonly sourceName: string,
    private readonly config: SourceConfig,
    private readonly options: ReconcileSourceOptions,
    private readonly pgClient: pg.Client | undefined,
    private readonly myConnection: mysql.Connection | undefined,
    readonly schema: string,
    /** When the consistent read began, ISO. */
    readonly asOf: string,
  ) {
    this.dialect = sourceDialect(config.kind)
  }

  static async open(sourceName: string, config: SourceConfig, options: ReconcileSourceOptions): Promise<ReconcileSource> {
    if (config.kind === 'postgres') {
      const client = new pg.Client({ connectionString: options.url, connectionTimeoutMillis: config.connectTimeoutMs })
      client.on('error', () => undefined)
      try {
        await client.connect()
        await prepareSession(client)
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
        const at = (await client.query<{ at: Date }>('SELECT now() AS at')).rows[0]!.at.toISOString()
        return new ReconcileSource(sourceName, config, options, client, undefined, config.schema ?? 'public', at)
      } catch (error) {
        await settleWithin(client.end(), 2_000)
        throw sourceError(error, sourceName, 'cannot open the reconciliation read')
      }
    }
    const connection = createTextConnection(options.url, config.connectTimeoutMs)
    const run = <R>(sql: string): Promise<R[]> =>
      new Promise((resolve, reject) => connection.query({ sql, timeout: config.readTimeoutMs }, (error: unknown, rows: unknown) => (error ? reject(error) : resolve(rows as R[]))))
    try {
      await run("SET time_zone = '+00:00'")
      await run('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY')
      const [row] = await run<{ at: string; db: string | null }>('SELECT DATE_FORMAT(UTC_TIMESTAMP(6), "%Y-%m-%dT%H:%i:%s.%fZ") AS at, DATABASE() AS db')
      const database = config.schema ?? row?.db
      if (!database) throw new ColdpipeError('CONFIG_INVALID', `source ${sourceName}: url names no database and schema is not set`, { context: { source: sourceName } })
      return new ReconcileSource(sourceName, config, options, undefined, connection, database, new Date(row!.at).toISOString())
    } catch (error) {
      connection.destroy()
      throw sourceError(error, sourceName, 'cannot open the reconciliation read')
    }
  }

  /**
   * Up to `count` connections reading the same snapshot (the first one is this source's own), for statements that
   * split one pass between them. PostgreSQL shares the snapshot (pg_export_snapshot); where it cannot (MariaDB, a
   * server refusing the export), there is one. Opened once and kept until close.
   */
  async connections(count: number): Promise<number> {
    if (!this.pgClient || count <= 1) return 1
    if (this.workers.length >= count - 1) return count
    let snapshot: string
    try {
      snapshot = (await this.pgClient.query<{ id: string }>('SELECT pg_export_snapshot() AS id')).rows[0]!.id
    } catch {
      return 1 + this.workers.length
    }
    while (this.workers.length < count - 1) {
      const client = new pg.Client({ connectionString: this.options.url, connectionTimeoutMillis: this.config.connectTimeoutMs })
      client.on('error', () => undefined)
      try {
        await client.connect()
        await prepareSession(client)
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
        await client.query(`SET TRANSACTION SNAPSHOT '${snapshot.replace(/'/g, "''")}'`)
      } catch {
        // One connection fewer (connection limit, a standby that cannot import): the pass is only slower.
        await settleWithin(client.end(), 2_000)
        break
      }
      this.workers.push(client)
    }
    return 1 + this.workers.length
  }

  get kind(): 'postgres' | 'mysql' {
    return this.config.kind
  }

  relation(table: string): string {
    return `${this.dialect.ident(this.schema)}.${this.dialect.ident(table)}`
  }

  /** Runs a statement under the rate limit; every value comes back as text. */
  async query(sql: string, what: string, kind: 'aggregate' | 'rows' | 'keys' | 'catalog' = 'catalog', params: unknown[] = [], connection = 0): Promise<TextRow[]> {
    const wait = this.lastQueryAt + this.options.minQueryIntervalMs - Date.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    this.lastQueryAt = Date.now()
    this.transferred.queries++
    let rows: TextRow[]
    try {
      if (this.pgClient) {
        const client = connection > 0 ? this.workers[connection - 1] ?? this.pgClient : this.pgClient
        const result = await client.query<TextRow>({ text: sql, values: params, query_timeout: this.config.readTimeoutMs, types: { getTypeParser: () => (v: string) => v } } as pg.QueryConfig)
        rows = result.rows
      } else {
        rows = await new Promise<TextRow[]>((resolve, reject) =>
          this.myConnection!.query({ sql, values: params, timeout: this.config.readTimeoutMs }, (error: unknown, result: unknown) => (error ? reject(error) : resolve(result as TextRow[]))),
        )
      }
    } catch (error) {
      throw sourceError(error, this.sourceName, what, { sql: sql.split('\n')[0]?.slice(0, 200) })
    }
    if (kind === 'aggregate') this.transferred.aggregateRows += rows.length
    if (kind === 'rows') this.transferred.rows += rows.length
    if (kind === 'keys') this.transferred.keys += rows.length
    return rows
  }

  /** Whether a valid b-tree index of the table starts with `column` (PostgreSQL): key-range scans come from it. */
  async leadsAnIndex(table: string, column: string): Promise<boolean> {
    if (this.kind !== 'postgres') return false
    const rows = await this.query(
      `SELECT 1 AS found FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
       WHERE n.nspname = $1 AND c.relname = $2 AND a.attname = $3 AND am.amname = 'btree' AND i.indisvalid AND i.indpred IS NULL LIMIT 1`,
      `cannot describe ${table}`, 'catalog', [this.schema, table, column],
    )
    return rows.length > 0
  }

  /** The table's columns as the export maps them, or undefined when the table does not exist. */
  async describe(table: string): Promise<SourceColumn[] | undefined> {
    if (this.kind === 'postgres') {
      const rel = await this.query(
        `SELECT c.oid::text AS oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'm')`,
        `cannot describe ${table}`, 'catalog', [this.schema, table],
      )
      if (rel.length === 0) return undefined
      const attrs = await this.query(pgAttributesSql, `cannot describe ${table}`, 'catalog', [rel[0]!.oid])
      return attrs.map((a) => mapPostgresColumn(table, { ...(a as unknown as PgAttribute), typmod: Number(a.typmod) }))
    }
    const infos = await describeMysqlColumns((sql, params) => this.query(sql, `cannot describe ${table}`, 'catalog', params), this.schema, table)
    if (infos.length === 0) return undefined
    return infos.map((info) => mapMysqlColumn(table, info))
  }

  async close(): Promise<void> {
    // Ending the connection ends the read-only transaction.
    for (const client of this.workers.splice(0)) {
      await settleWithin(client.end(), 5_000)
      ;(client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy()
    }
    if (this.pgClient) {
      await settleWithin(this.pgClient.end(), 5_000)
      ;(this.pgClient as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy()
    }
    if (this.myConnection) {
      const connection = this.myConnection
      await settleWithin(new Promise<void>((resolve) => connection.end(() => resolve())), 5_000)
      connection.destroy()
    }
  }
}

async function prepareSession(client: pg.Client): Promise<void> {
  // The same session settings as the export: exact ISO text in UTC, shortest-exact floats.
  await client.query("SET DateStyle = 'ISO, YMD'; SET TimeZone = 'UTC'; SET IntervalStyle = 'iso_8601'; SET extra_float_digits = 1")
  // The planner guesses a group per row for the segment expression: it would sort the whole table on disk
  // (600 MB of temp files for 10M rows, measured) and JIT-compile the hash expression. A hash aggregate
  // over ~1,000 segments needs neither, and the per-segment range scans must come from the key's index.
  await client.query('SET enable_sort = off; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0').catch(() => undefined)
  await client.query('SET jit = off').catch(() => undefined)
}
