import type { Database, QueryResult, ReusableStatement, SqlParams, SqlStatements, StatementsInfo } from './duckdb-database.ts'
import type { RowStream } from './stream-rows.ts'

/**
 * A Database whose connection is opened on first use, or when `openSoon` says it will be needed: an export
 * starts its source's COPY first and loads DuckDB while the first chunk streams in, instead of making the
 * source wait for DuckDB's native library to load (tens of milliseconds of a blocked thread at start-up,
 * while the database server keeps filling the socket's buffers). An open that fails fails every use, with
 * the open's own coded error.
 */
export class DeferredDatabase implements Database {
  private opening: Promise<Database> | undefined
  private opened: Database | undefined
  private closed = false

  constructor(
    readonly path: string,
    readonly readOnly: boolean,
    private readonly open: () => Promise<Database>,
  ) {}

  /** Starts opening now (in the background) if nothing has yet; a failure waits for the first use. */
  openSoon(): void {
    this.connection().catch(() => undefined)
  }

  private connection(): Promise<Database> {
    this.opening ??= this.open().then((db) => {
      // Closed while it opened: nobody will close it later.
      if (this.closed) db.close()
      else this.opened = db
      return db
    })
    return this.opening
  }

  async run(sql: string, params?: SqlParams): Promise<void> {
    return (await this.connection()).run(sql, params)
  }

  async all<Row = Record<string, unknown>>(sql: string, params?: SqlParams): Promise<Row[]> {
    return (await this.connection()).all<Row>(sql, params)
  }

  async queryJson(sql: string, params?: SqlParams): Promise<QueryResult> {
    return (await this.connection()).queryJson(sql, params)
  }

  async queryJsonUpTo(sql: string, maxRows: number, params?: SqlParams): Promise<QueryResult & { truncated: boolean }> {
    return (await this.connection()).queryJsonUpTo(sql, maxRows, params)
  }

  async streamJson(sql: string, params?: SqlParams): Promise<RowStream> {
    return (await this.connection()).streamJson(sql, params)
  }

  async prepare(sql: string): Promise<ReusableStatement> {
    return (await this.connection()).prepare(sql)
  }

  async inspectStatements(sql: string): Promise<StatementsInfo> {
    return (await this.connection()).inspectStatements(sql)
  }

  async statements(sql: string): Promise<SqlStatements> {
    return (await this.connection()).statements(sql)
  }

  async connect(): Promise<Database> {
    return (await this.connection()).connect()
  }

  /** Nothing runs before the connection is open, so there is nothing to interrupt until then. */
  interrupt(): void {
    this.opened?.interrupt()
  }

  close(): void {
    this.closed = true
    this.opened?.close()
    this.opened = undefined
  }
}

/** Asks a DeferredDatabase to open now; any other Database is already open. */
export function openSoon(db: Database): void {
  if (db instanceof DeferredDatabase) db.openSoon()
}
