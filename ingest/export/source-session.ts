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
 * Connects to a source ahead of its run, so the network round trips and the server's session start overlap
 * with the caller's own start-up (job lease, DuckDB). A failure is the run's first connect failing: it is
 * thrown by the session's first open(), under the caller's retries, not here.
 */
export function preconnectSource(name: string, config: SourceConfig): Promise<SourceConnector> {
  const early = connect(name, config)
  early.catch(() => undefined)
  return early
}

/** Closes a connection opened ahead and never used; one whose connect failed has nothing to close. */
export async function closePreconnected(early: Promise<SourceConnector> | undefined): Promise<void> {
  await early?.then((connector) => connector.close(), () => undefined)
}

/**
 * The connection a source run reads through. Tables share one connection and its consistent read while
 * they succeed; after a failed attempt the connection is dropped (a half-read statement, a reset socket or a
 * terminated backend leave it unusable) and the next attempt opens a fresh one, on a new snapshot.
 */
export class SourceSession {
  private current: OpenRead | undefined

  /** `preconnected`: a connection opened ahead (`preconnectSource`), taken by the first open() instead of connecting then. */
  constructor(
    private readonly name: string,
    private readonly config: SourceConfig,
    private preconnected?: Promise<SourceConnector>,
  ) {}

  /** The open connection, or a fresh one with its consistent read begun. */
  async open(): Promise<OpenRead> {
    if (this.current) return this.current
    const early = this.preconnected
    this.preconnected = undefined
    const connector = await (early ?? connect(this.name, this.config))
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

  /** Drops the connection (and an unused early one); the next open() starts a new one. */
  async discard(): Promise<void> {
    const current = this.current
    const early = this.preconnected
    this.current = undefined
    this.preconnected = undefined
    await current?.connector.close()
    await closePreconnected(early)
  }

  close(): Promise<void> {
    return this.discard()
  }
}
