import type { SourceConfig } from './export-config.ts'
import type { SourceConnector } from './source-connector.ts'

export interface OpenRead {
  connector: SourceConnector
  /** When this connection's consistent read began: the asOf of every table read through it. */
  asOf: string
}

/** Each driver is loaded when a source of its kind is first read: a Postgres-only run never loads mysql2. */
async function connect(name: string, config: SourceConfig): Promise<SourceConnector> {
  if (config.kind === 'postgres') return (await import('./postgres-connector.ts')).PostgresConnector.connect(name, config)
  return (await import('./mysql-connector.ts')).MysqlConnector.connect(name, config)
}

/**
 * The connection a source run reads through. Tables share one connection and its consistent read while
 * they succeed; after a failed attempt the connection is dropped (a half-read statement, a reset socket or a
 * terminated backend leave it unusable) and the next attempt opens a fresh one, on a new snapshot.
 */
export class SourceSession {
  private current: OpenRead | undefined

  constructor(
    private readonly name: string,
    private readonly config: SourceConfig,
  ) {}

  /** The open connection, or a fresh one with its consistent read begun. */
  async open(): Promise<OpenRead> {
    if (this.current) return this.current
    const connector = await connect(this.name, this.config)
    try {
      this.current = { connector, asOf: await connector.beginConsistentRead() }
      return this.current
    } catch (error) {
      await connector.close()
      throw error
    }
  }

  /** Only for what needs no snapshot (listing tables): the open connection, or a fresh one. */
  async connector(): Promise<SourceConnector> {
    return (await this.open()).connector
  }

  /** Drops the connection; the next open() starts a new one. */
  async discard(): Promise<void> {
    const current = this.current
    this.current = undefined
    await current?.connector.close()
  }

  close(): Promise<void> {
    return this.discard()
  }
}
