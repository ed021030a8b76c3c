import type { Database } from '../core/duckdb/index.ts'
import { ColdpipeError, messageOf, type ErrorCode } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { SnapshotManifest, SnapshotStore } from '../warehouse/snapshot-store.ts'

/** The part of SnapshotStore the API uses. */
export type SnapshotSource = Pick<SnapshotStore, 'current' | 'get' | 'list' | 'openReadOnly'>

export type ConnectionKind = 'reports' | 'sql'

interface ConnectionSet {
  main: Promise<Database>
  idle: Database[]
  all: Database[]
}

/** Settings of the separate DuckDB instance that runs ad-hoc SQL: no files, no extensions, no settings changes. */
export function sandboxSettings(memoryLimit: string): Record<string, string> {
  return {
    enable_external_access: 'false',
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
    allow_community_extensions: 'false',
    memory_limit: memoryLimit,
    lock_configuration: 'true',
  }
}

/** One open snapshot: a read-only DuckDB instance for reports, lazily a sandboxed one for ad-hoc SQL. */
class SnapshotHandle {
  leases = 0
  retired = false
  /** Connections running a query right now: interrupted on shutdown before the instance closes. */
  readonly inUse = new Set<Database>()
  private readonly idleWaiters: (() => void)[] = []
  private readonly sets = new Map<ConnectionKind, ConnectionSet>()

  constructor(
    readonly manifest: SnapshotManifest,
    private readonly source: SnapshotSource,
    private readonly sqlMemoryLimit: string,
  ) {}

  get id(): number {
    return this.manifest.id
  }

  private set(kind: ConnectionKind): ConnectionSet {
    let set = this.sets.get(kind)
    if (!set) {
      const options = kind === 'sql' ? { settings: sandboxSettings(this.sqlMemoryLimit) } : {}
      const main = this.source.openReadOnly(this.id, options).then(({ db }) => db)
      set = { main, idle: [], all: [] }
      this.sets.set(kind, set)
      main.catch(() => this.sets.delete(kind))
    }
    return set
  }

  /** Opens the reports instance now, so the first request does not pay for it. */
  async warm(): Promise<void> {
    await this.set('reports').main
  }

  async connection(kind: ConnectionKind): Promise<Database> {
    const set = this.set(kind)
    const main = await set.main
    const idle = set.idle.pop()
    if (idle) return idle
    // The caller holds a query slot, so connections never outnumber maxConcurrentQueries.
    const connection = set.all.length === 0 ? main : await main.connect()
    set.all.push(connection)
    return connection
  }

  release(kind: ConnectionKind, connection: Database): void {
    this.sets.get(kind)?.idle.push(connection)
  }

  leaseEnded(): void {
    this.leases--
    if (this.leases === 0) for (const wake of this.idleWaiters.splice(0)) wake()
  }

  /** Resolves once no request holds this snapshot (closing an instance under a running query crashes DuckDB). */
  async drained(): Promise<void> {
    if (this.leases === 0) return
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
  }

  async close(): Promise<void> {
    for (const set of this.sets.values()) {
      const main = await set.main.catch(() => undefined)
      for (const connection of set.all) if (connection !== main) connection.close()
      main?.close()
    }
    this.sets.clear()
  }
}

export interface SnapshotLease {
  manifest: SnapshotManifest
  /** Runs `fn` on a connection of this snapshot, interrupting it after `timeoutMs` (→ `timeoutCode`). */
  query<T>(kind: ConnectionKind, timeoutMs: number, timeoutCode: ErrorCode, fn: (db: Database) => Promise<T>): Promise<T>
  release(): void
}

/**
 * Keeps the current snapshot open read-only and reuses it for every request, with a connection per running
 * query. When the current pointer moves, new requests go to the new snapshot and the old one is closed once
 * its in-flight queries finish. Snapshots asked for by `asOf` are opened for the request and closed after.
 */
export class SnapshotPool {
  private readonly handles = new Map<number, Promise<SnapshotHandle>>()
  private currentHandleId: number | undefined
  private lastCheck = 0
  private checking: Promise<SnapshotManifest | undefined> | undefined
  private currentManifest: SnapshotManifest | undefined
  private closed = false

  constructor(
    private readonly source: SnapshotSource,
    private readonly options: { logger: Logger; sqlMemoryLimit: string; checkIntervalMs?: number; onSwitch?: (from: number | undefined, to: number) => void },
  ) {}

  /** The current snapshot's manifest, re-read at most every checkIntervalMs once there is one; undefined before the first publish. */
  async current(): Promise<SnapshotManifest | undefined> {
    // Before the first publish every request looks again, so the first snapshot is served as soon as it exists.
    if (this.currentManifest && Date.now() - this.lastCheck < (this.options.checkIntervalMs ?? 100)) return this.currentManifest
    this.checking ??= this.source
      .current()
      .then(async (manifest) => {
        this.lastCheck = Date.now()
        if (manifest && manifest.id !== this.currentHandleId) await this.switchTo(manifest)
        this.currentManifest = manifest
        return manifest
      })
      .finally(() => {
        this.checking = undefined
      })
    return this.checking
  }

  private async switchTo(manifest: SnapshotManifest): Promise<void> {
    const previous = this.currentHandleId
    const handle = await this.handle(manifest.id, manifest)
    await handle.warm()
    this.currentHandleId = manifest.id
    this.options.logger.info({ snapshot: manifest.id, previous }, 'serving snapshot')
    this.options.onSwitch?.(previous, manifest.id)
    if (previous !== undefined) {
      const old = await this.handles.get(previous)
      if (old) {
        old.retired = true
        await this.closeIfIdle(old)
      }
    }
  }

  private handle(id: number, manifest?: SnapshotManifest): Promise<SnapshotHandle> {
    let handle = this.handles.get(id)
    if (!handle) {
      handle = (async () => new SnapshotHandle(manifest ?? (await this.source.get(id)), this.source, this.options.sqlMemoryLimit))()
      this.handles.set(id, handle)
      handle.catch(() => this.handles.delete(id))
    }
    return handle
  }

  private async closeIfIdle(handle: SnapshotHandle): Promise<void> {
    if (handle.leases > 0 || !handle.retired) return
    this.handles.delete(handle.id)
    try {
      await handle.close()
      this.options.logger.info({ snapshot: handle.id }, 'closed snapshot')
    } catch (error) {
      this.options.logger.error({ snapshot: handle.id, err: messageOf(error) }, 'closing snapshot failed')
    }
  }

  /** Newest snapshot published at or before `asOf`. */
  async resolveAsOf(asOf: Date): Promise<number> {
    const ids = await this.source.list()
    for (let i = ids.length - 1; i >= 0; i--) {
      const manifest = await this.source.get(ids[i]!).catch(() => undefined)
      if (manifest && Date.parse(manifest.publishedAt) <= asOf.getTime()) return manifest.id
    }
    throw new ColdpipeError('WAREHOUSE_SNAPSHOT_NOT_FOUND', `no snapshot was published at or before ${asOf.toISOString()}`, {
      context: { asOf: asOf.toISOString() },
    })
  }

  /** Pins a snapshot (the current one by default) for one request. */
  async lease(id?: number): Promise<SnapshotLease> {
    if (this.closed) throw new ColdpipeError('WAREHOUSE_NO_SNAPSHOT', 'the reports API is shutting down')
    const current = await this.current()
    const wanted = id ?? current?.id
    if (wanted === undefined) {
      throw new ColdpipeError('WAREHOUSE_NO_SNAPSHOT', 'no snapshot has been published yet; reports answer once the warehouse publishes one')
    }
    const handle = await this.handle(wanted)
    if (wanted !== this.currentHandleId) handle.retired = true
    handle.leases++
    let released = false
    return {
      manifest: handle.manifest,
      query: async (kind, timeoutMs, timeoutCode, fn) => {
        const connection = await handle.connection(kind)
        handle.inUse.add(connection)
        let timedOut = false
        const timer = setTimeout(() => {
          timedOut = true
          connection.interrupt()
        }, timeoutMs)
        try {
          return await fn(connection)
        } catch (error) {
          if (timedOut) {
            throw new ColdpipeError(timeoutCode, `the query ran longer than ${timeoutMs} ms and was stopped`, {
              cause: error,
              context: { snapshot: handle.id, timeoutMs },
            })
          }
          throw error
        } finally {
          clearTimeout(timer)
          handle.inUse.delete(connection)
          handle.release(kind, connection)
        }
      },
      release: () => {
        if (released) return
        released = true
        handle.leaseEnded()
        void this.closeIfIdle(handle)
      },
    }
  }

  /** Stops running queries, waits for their requests to let go, then closes every snapshot. */
  async close(): Promise<void> {
    this.closed = true
    for (const pending of [...this.handles.values()]) {
      const handle = await pending.catch(() => undefined)
      if (!handle) continue
      handle.retired = true
      for (const connection of handle.inUse) connection.interrupt()
      await handle.drained()
      if (this.handles.has(handle.id)) {
        this.handles.delete(handle.id)
        await handle.close()
      }
    }
    this.handles.clear()
  }
}
