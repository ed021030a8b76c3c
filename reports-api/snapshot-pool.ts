import type { Database } from '../core/duckdb/index.ts'
import { ColdpipeError, isColdpipeError, messageOf, type ErrorCode } from '../core/errors.ts'
import type { Logger } from '../core/logger.ts'
import type { SnapshotManifest, SnapshotStore } from '../warehouse/snapshot-store.ts'
import { streamInstanceOptions, streamPipeDirectory } from './result-stream.ts'

/** How long a report query may keep going after its interrupt before the request answers anyway. */
const interruptGraceMs = 250

/** The part of SnapshotStore the API uses; `dir` lets the SQL worker processes open snapshots themselves. */
export type SnapshotSource = Pick<SnapshotStore, 'currentId' | 'current' | 'get' | 'list' | 'openReadOnly' | 'dir'>

/** `streams`: a separate instance for whole-result downloads (result-stream.ts), memory-capped by api.streamMemoryLimit. */
/** Named reports, and the separate instance streams run on (ad-hoc SQL runs in worker processes: sql-worker/). */
export type ConnectionKind = 'reports' | 'streams'

interface ConnectionSet {
  main: Promise<Database>
  idle: Database[]
  all: Database[]
}

/** One open snapshot: a read-only DuckDB instance for reports, lazily one for streamed downloads. */
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
    private readonly streamMemoryLimit?: string,
  ) {}

  get id(): number {
    return this.manifest.id
  }

  private set(kind: ConnectionKind): ConnectionSet {
    let set = this.sets.get(kind)
    if (!set) {
      // Trusted report SQL may write into the stream pipe folder only (DuckDB's own CSV/Parquet writers, result-stream.ts).
      const options =
        kind === 'streams' ? streamInstanceOptions(this.streamMemoryLimit) : { allowedDirectories: [streamPipeDirectory()] }
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
    this.wakeIfIdle()
  }

  /** A connection finished its query (possibly after its request already answered with a timeout). */
  connectionDone(connection: Database): void {
    this.inUse.delete(connection)
    this.wakeIfIdle()
  }

  get idle(): boolean {
    return this.leases === 0 && this.inUse.size === 0
  }

  private wakeIfIdle(): void {
    if (this.idle) for (const wake of this.idleWaiters.splice(0)) wake()
  }

  /** Resolves once no request holds this snapshot and no query runs on it (closing an instance under a running query crashes DuckDB). */
  async drained(): Promise<void> {
    if (this.idle) return
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
  /**
   * Runs `fn` on a connection of this snapshot, interrupting it after `timeoutMs` (→ `timeoutCode`), or at
   * `slotDeadline` (epoch ms: the limiter slot's, queue wait included) if that comes first.
   */
  query<T>(kind: ConnectionKind, timeoutMs: number, timeoutCode: ErrorCode, fn: (db: Database) => Promise<T>, slotDeadline?: number): Promise<T>
  release(): void
}

/** One request's pin on a snapshot: an object with methods, not closures, as a cache hit takes one per request. */
class PinnedLease implements SnapshotLease {
  private released = false

  constructor(
    private readonly handle: SnapshotHandle,
    private readonly closeIfIdle: (handle: SnapshotHandle) => Promise<void>,
  ) {}

  get manifest(): SnapshotManifest {
    return this.handle.manifest
  }

  async query<T>(kind: ConnectionKind, timeoutMs: number, timeoutCode: ErrorCode, fn: (db: Database) => Promise<T>, slotDeadline?: number): Promise<T> {
    // Inside a limiter slot the slot's deadline (queue wait included) caps the run as well.
    const budgetMs = Math.min(timeoutMs, slotDeadline === undefined ? Infinity : slotDeadline - Date.now())
    const timeoutError = (cause?: unknown): ColdpipeError =>
      new ColdpipeError(timeoutCode, `the query ran longer than ${timeoutMs} ms (queue wait included) and was stopped`, {
        ...(cause === undefined ? {} : { cause }),
        context: { snapshot: this.handle.id, timeoutMs },
      })
    if (budgetMs <= 0) throw timeoutError()
    const connection = await this.handle.connection(kind)
    this.handle.inUse.add(connection)
    let timedOut = false
    let giveUp: ((error: Error) => void) | undefined
    let graceTimer: NodeJS.Timeout | undefined
    const timer = setTimeout(() => {
      timedOut = true
      connection.interrupt()
      // DuckDB's interrupt does not reach everything (the JS conversion of a result, one huge value):
      // the answer goes out shortly after the deadline whether or not the connection has stopped.
      graceTimer = setTimeout(() => giveUp?.(timeoutError()), interruptGraceMs)
    }, budgetMs)
    const work = (async () => fn(connection))()
    const settled = work.then(
      () => undefined,
      () => undefined,
    )
    // The connection goes back to the idle list only once DuckDB is really done with it.
    void settled.finally(() => {
      clearTimeout(timer)
      clearTimeout(graceTimer)
      this.handle.release(kind, connection)
      this.handle.connectionDone(connection)
      void this.closeIfIdle(this.handle)
    })
    try {
      return await Promise.race([work, new Promise<never>((_resolve, reject) => (giveUp = reject))])
    } catch (error) {
      if (timedOut && !(isColdpipeError(error) && error.code === timeoutCode)) throw timeoutError(error)
      throw error
    }
  }

  release(): void {
    if (this.released) return
    this.released = true
    this.handle.leaseEnded()
    void this.closeIfIdle(this.handle)
  }
}

/**
 * Keeps the current snapshot open read-only and reuses it for every request, with a connection per running
 * query. When the current pointer moves, new requests go to the new snapshot and the old one is closed once
 * its in-flight queries finish. Snapshots asked for by `asOf` are opened for the request and closed after.
 */
export class SnapshotPool {
  private readonly handles = new Map<number, Promise<SnapshotHandle>>()
  private currentHandleId: number | undefined
  /** The handle of `currentHandleId` once opened, for leaseCurrent(). */
  private currentHandle: SnapshotHandle | undefined
  private lastCheck = 0
  private checking: Promise<SnapshotManifest | undefined> | undefined
  private currentManifest: SnapshotManifest | undefined
  private closed = false
  private readonly closeIdle = (handle: SnapshotHandle): Promise<void> => this.closeIfIdle(handle)

  constructor(
    private readonly source: SnapshotSource,
    private readonly options: { logger: Logger; streamMemoryLimit?: string; checkIntervalMs?: number; onSwitch?: (from: number | undefined, to: number) => void },
  ) {}

  /** Whether the current pointer is due for a re-read (every checkIntervalMs). */
  private recheckDue(): boolean {
    return Date.now() - this.lastCheck >= (this.options.checkIntervalMs ?? 100)
  }

  /**
   * Starts the re-read in the background once half the interval has passed: under steady traffic it is done
   * before the pointer is due, so no request waits for it (those that did were a twentieth of cached requests,
   * each through the awaited path). A failure is met again by the first request that finds the pointer due.
   */
  private recheckAhead(): void {
    if (this.checking || Date.now() - this.lastCheck < (this.options.checkIntervalMs ?? 100) / 2) return
    this.recheck().catch(() => undefined)
  }

  /** The current snapshot's manifest, re-read at most every checkIntervalMs once there is one; undefined before the first publish. */
  async current(): Promise<SnapshotManifest | undefined> {
    // Before the first publish every request looks again, so the first snapshot is served as soon as it exists.
    if (this.currentManifest && !this.recheckDue()) {
      this.recheckAhead()
      return this.currentManifest
    }
    return this.recheck()
  }

  private recheck(): Promise<SnapshotManifest | undefined> {
    // Only the pointer is read every interval: a snapshot's manifest never changes once published, and parsing it
    // again (its size grows with the lake's tables) also made every cached answer rebuild its sources view.
    this.checking ??= this.source
      .currentId()
      .then((id) => (id === undefined ? undefined : id === this.currentManifest?.id ? this.currentManifest : this.source.get(id)))
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
    this.currentHandle = handle
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
      handle = (async () => new SnapshotHandle(manifest ?? (await this.source.get(id)), this.source, this.options.streamMemoryLimit))()
      this.handles.set(id, handle)
      handle.catch(() => this.handles.delete(id))
    }
    return handle
  }

  private async closeIfIdle(handle: SnapshotHandle): Promise<void> {
    if (!handle.idle || !handle.retired || this.handles.get(handle.id) === undefined) return
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
    return this.pin(await this.handle(wanted))
  }

  /**
   * What `lease()` answers, without waiting: undefined when the current pointer is due for a re-read (or there
   * is none yet), and the caller should use `lease()`. For a cache hit's path that awaits nothing.
   */
  leaseCurrent(): SnapshotLease | undefined {
    const handle = this.currentHandle
    if (this.closed || !handle || !this.currentManifest || this.recheckDue()) return undefined
    if (handle.id !== this.currentManifest.id || this.handles.get(handle.id) === undefined) return undefined
    this.recheckAhead()
    return this.pin(handle)
  }

  private pin(handle: SnapshotHandle): SnapshotLease {
    if (handle.id !== this.currentHandleId) handle.retired = true
    handle.leases++
    return new PinnedLease(handle, this.closeIdle)
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
