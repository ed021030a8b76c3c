import { mkdir } from 'node:fs/promises'
import { ColdpipeError, isColdpipeError } from '../core/errors.ts'
import { silentLogger, type Logger } from '../core/logger.ts'
import { commitLogDefaults, type CommitLogConfig } from './commit-log-config.ts'
import { compactedFromOf, type Commit, type CommitDraft, type CommitLogStats, type CommitResult, type CorruptEntry, type LakeFile, type LakeSpan, type Tombstone, type Watermark } from './commit-types.ts'
import { lakeFormatVersion, readLakeFormat, writeLakeFormat } from './lake-format.ts'
import { effectiveLakeSettings, type LakeSettings } from './lake-settings.ts'
import { LakeLayout } from './lake-layout.ts'
import { LakeState } from './lake-state.ts'
import { readAhead, readCommitFile, readExpiredMarker, readFromLastCheckpoint, resolveBase, writeCheckpointFile } from './log-files.ts'
import { createIfAbsent } from './put-if-absent.ts'

export type { Commit, CommitDraft, CommitLogStats, CommitResult, CorruptEntry, LakeFile, LakeSpan, Tombstone, Watermark } from './commit-types.ts'

export interface CommitLogOptions extends Partial<CommitLogConfig> {
  logger?: Logger
  /**
   * For `coldpipe status`: never writes (no `_lake.json`, no checkpoint, no folders), and stops at a commit
   * it cannot read, exposing it as `corrupt` with everything before it, instead of failing. Commits through
   * such a log are refused with LAKE_LOG_CORRUPT.
   */
  inspect?: boolean
}

const maxCommitAttempts = 100

/**
 * The lake's commit log: `_log/<version>.json`, one file per commit, created put-if-absent, and every
 * `checkpointEveryCommits` versions a checkpoint `_log/<version>.checkpoint.json` of the whole state, as
 * Delta Lake's log does. Opening reads the newest checkpoint and the commits after it; the state (active
 * files, watermarks, kept idempotency keys, tombstones) is then kept incrementally, so memory and open
 * time follow what changed, not how long the lake has existed.
 */
export class CommitLog {
  readonly layout: LakeLayout
  private readonly explicit: Partial<CommitLogConfig>
  /** Defaults, then the lake's `_lake.json` settings (read at open), then the options given. */
  private config: CommitLogConfig
  private stored: LakeSettings = {}
  private readonly logger: Logger
  private readonly inspect: boolean
  /** The state at the latest version read. */
  private state = new LakeState()
  /** The state just before `tail` (its files and watermarks), so the last N to 2N versions are answered from memory. */
  private base = new LakeState()
  private tail: Commit[] = []
  private corruptEntry: CorruptEntry | undefined
  private counters = { checkpointVersion: -1, commitFilesRead: 0, logListings: 0 }
  /** Serializes this instance's reads and commits; other processes are handled by put-if-absent. */
  private queue: Promise<unknown> = Promise.resolve()

  constructor(lakeRoot: string, options: CommitLogOptions = {}) {
    this.layout = new LakeLayout(lakeRoot)
    const { logger, inspect, ...explicit } = options
    this.explicit = explicit
    this.config = { ...commitLogDefaults, ...explicit }
    this.logger = logger ?? silentLogger
    this.inspect = inspect ?? false
  }

  static async open(lakeRoot: string, options: CommitLogOptions = {}): Promise<CommitLog> {
    const log = new CommitLog(lakeRoot, options)
    const format = await readLakeFormat(log.layout)
    log.stored = format?.settings ?? {}
    log.config = { ...effectiveLakeSettings(log.stored), ...log.explicit }
    if (!log.inspect) {
      await mkdir(log.layout.logDir, { recursive: true })
      await mkdir(log.layout.tmpDir, { recursive: true })
    }
    await log.exclusive(() => log.load())
    if (!log.inspect && (format === undefined || format.formatVersion < lakeFormatVersion)) await log.markFormat(format?.formatVersion)
    return log
  }

  /** New lake: write `_lake.json`. A lake from before it: checkpoint what was replayed, then mark it. */
  private async markFormat(from: number | undefined): Promise<void> {
    // A concurrent opener of a new lake may have marked it (and committed) since we looked.
    if ((await readLakeFormat(this.layout))?.formatVersion === lakeFormatVersion) return
    if (this.state.version >= 0) {
      await this.writeCheckpoint()
      await writeLakeFormat(this.layout, new Date(), from !== undefined)
      this.logger.info({ lakeRoot: this.layout.root, fromFormatVersion: from ?? 0, formatVersion: lakeFormatVersion, checkpointVersion: this.state.version }, 'lake migrated to the current format')
    } else {
      await writeLakeFormat(this.layout, new Date(), from !== undefined)
    }
  }

  /** The settings this log checkpoints and prunes by. */
  get settings(): Readonly<CommitLogConfig> {
    return this.config
  }

  /** The settings `_lake.json` holds (those not set there take the defaults). */
  get storedSettings(): LakeSettings {
    return { ...this.stored }
  }

  /** Latest committed version, or -1 for an empty lake. */
  get latestVersion(): number {
    return this.state.version
  }

  /** The commit this log could not read (inspect mode only); everything before it is readable. */
  get corrupt(): CorruptEntry | undefined {
    return this.corruptEntry
  }

  get stats(): CommitLogStats {
    return {
      ...this.counters,
      commitsInMemory: this.tail.length,
      idempotencyKeys: this.state.keys.size,
      tombstones: this.state.tombstones.size,
      activeFiles: this.state.files.size,
    }
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work)
    this.queue = next.catch(() => undefined)
    return next
  }

  /** Reads commits other processes added since the last look. */
  refresh(): Promise<void> {
    return this.exclusive(() => this.readNewCommits())
  }

  /** Reads from the newest usable checkpoint to the end of the log. */
  private async load(): Promise<void> {
    this.corruptEntry = undefined
    const fast = await readFromLastCheckpoint(this.layout)
    if (fast) {
      this.begin(fast.state)
      for (const commit of fast.commits) {
        this.counters.commitFilesRead++
        this.apply(commit)
      }
      if (fast.commits.length > this.config.checkpointEveryCommits && !this.inspect) await this.writeCheckpoint()
      return
    }
    let resolved: Awaited<ReturnType<typeof resolveBase>>
    this.counters.logListings++
    try {
      resolved = await resolveBase(this.layout)
    } catch (error) {
      if (!this.inspect || !isColdpipeError(error, 'LAKE_LOG_CORRUPT')) throw error
      // Nothing readable to start from (a gap, no usable checkpoint): status still shows what is wrong.
      const version = Number(error.context.missing ?? error.context.version ?? 0)
      resolved = { state: new LakeState(), commits: [], skipped: [] }
      this.corruptEntry = { version, file: this.layout.commitFile(version), reason: error.message }
    }
    const { state, commits, skipped } = resolved
    for (const s of skipped) this.logger.warn({ lakeRoot: this.layout.root, checkpointVersion: s.version, reason: s.reason }, 'lake checkpoint unreadable; reading from an older one')
    this.begin(state)
    let read = 0
    const reads = readAhead(commits, (version) => readCommitFile(this.layout, version))
    for (const version of commits) {
      let commit: Commit | undefined
      try {
        commit = await reads.next(version)
        if (!commit) {
          throw new ColdpipeError('LAKE_LOG_CORRUPT', `commit ${this.layout.commitFile(version)} disappeared while the log was read`, { context: { file: this.layout.commitFile(version), version } })
        }
      } catch (error) {
        if (this.inspect && isColdpipeError(error, 'LAKE_LOG_CORRUPT')) {
          this.corruptEntry = { version, file: this.layout.commitFile(version), reason: String(error.context.reason ?? error.message) }
          return
        }
        throw error
      }
      read++
      this.counters.commitFilesRead++
      this.apply(commit)
    }
    // The committer that should have written the checkpoint died first: write one here, so the next open is short.
    if (read > this.config.checkpointEveryCommits && !this.inspect) await this.writeCheckpoint()
  }

  /** Starts from a checkpoint's state (or the empty lake's). */
  private begin(state: LakeState): void {
    this.state = state
    this.base = state.clone()
    this.base.keys.clear()
    this.base.tombstones.clear()
    this.tail = []
    this.counters.checkpointVersion = state.version
  }

  private apply(commit: Commit): void {
    this.state.apply(commit)
    this.tail.push(commit)
    const every = this.config.checkpointEveryCommits
    // Every process prunes at the same versions by the same rules, so memory matches the checkpoint's.
    if (commit.version > 0 && commit.version % every === 0) this.state.prune(this.config)
    if (this.tail.length >= 2 * every) {
      // Move the window on by N, keeping at least the last N versions answerable from memory (a publish
      // still asks for the version it started at after a commit of its own).
      for (const old of this.tail.splice(0, every)) this.base.apply(old)
      // Only files and watermarks of past versions are ever asked for.
      this.base.keys.clear()
      this.base.tombstones.clear()
    }
  }

  private async writeCheckpoint(): Promise<void> {
    try {
      await writeCheckpointFile(this.layout, this.state)
    } catch (error) {
      // The commit is durable either way; a missing checkpoint only makes the next open read more commits.
      this.logger.warn({ err: error, lakeRoot: this.layout.root, version: this.state.version }, 'lake checkpoint not written')
    }
  }

  private corruptError(entry: CorruptEntry): ColdpipeError {
    return new ColdpipeError('LAKE_LOG_CORRUPT', `cannot go past commit ${entry.file}: ${entry.reason}`, { context: { ...entry } })
  }

  private async readNewCommits(): Promise<void> {
    if (this.corruptEntry) throw this.corruptError(this.corruptEntry)
    let reloaded = false
    for (;;) {
      const version = this.state.version + 1
      const commit = await readCommitFile(this.layout, version)
      if (commit) {
        this.counters.commitFilesRead++
        this.apply(commit)
        continue
      }
      // A process that slept through expireLog must not take a version number whose file was deleted.
      if (version < (await readExpiredMarker(this.layout))) {
        if (reloaded) throw new ColdpipeError('LAKE_LOG_CORRUPT', `commit log ${this.layout.logDir} lost version ${version} after expiry`, { context: { logDir: this.layout.logDir, version } })
        reloaded = true
        await this.load()
        continue
      }
      return
    }
  }

  /**
   * The commit that carried `idempotencyKey`, if the log still keeps that key (see LakeState.prune). A commit
   * known only from a checkpoint comes back without its `remove` list and `info`.
   */
  findByKey(idempotencyKey: string): Commit | undefined {
    return this.state.keys.get(idempotencyKey)
  }

  commit(draft: CommitDraft): Promise<CommitResult> {
    return this.exclusive(() => this.commitNow(draft))
  }

  private async commitNow(draft: CommitDraft): Promise<CommitResult> {
    for (let attempt = 0; attempt < maxCommitAttempts; attempt++) {
      await this.readNewCommits()
      if (this.inspect) throw new ColdpipeError('INTERNAL', 'a commit log opened to inspect does not commit', { context: { lakeRoot: this.layout.root } })
      if (draft.idempotencyKey) {
        const existing = this.state.keys.get(draft.idempotencyKey)
        if (existing) return { commit: existing, duplicate: true }
      }
      const missing = (draft.requireActive ?? []).filter((path) => !this.state.files.has(path))
      if (missing.length > 0) {
        throw new ColdpipeError('LAKE_COMMIT_CONFLICT', `${missing.length} files this commit requires are no longer active (first: ${missing[0]}); another writer removed them`, {
          context: { runId: draft.runId, kind: draft.kind, path: missing[0], missing: missing.length },
        })
      }
      const expectations = [
        ...Object.entries(draft.expectWatermarks ?? {}).map(([key, expected]) => ({ key, expected, actual: this.watermark(key)?.position ?? null })),
        ...Object.entries(draft.expectWatermarkAsOf ?? {}).map(([key, expected]) => ({ key, expected, actual: this.watermark(key)?.asOf ?? null })),
      ]
      for (const { key, expected, actual } of expectations) {
        if (actual !== expected) {
          throw new ColdpipeError('LAKE_WATERMARK_MOVED', `watermark ${key} is at ${actual ?? 'nothing'}, not ${expected ?? 'nothing'} as this commit expected`, {
            context: { runId: draft.runId, kind: draft.kind, watermark: key, expected, actual },
          })
        }
      }
      const commit: Commit = {
        version: this.state.version + 1,
        committedAt: new Date().toISOString(),
        kind: draft.kind,
        runId: draft.runId,
        ...(draft.idempotencyKey ? { idempotencyKey: draft.idempotencyKey } : {}),
        add: draft.add ?? [],
        remove: [...new Set([...(draft.remove ?? []), ...this.exportFilesOf(draft.replaceExportsOf)])],
        watermarks: draft.watermarks ?? [],
        ...(draft.info ? { info: draft.info } : {}),
      }
      if (await createIfAbsent(this.layout.tmpDir, this.layout.commitFile(commit.version), JSON.stringify(commit))) {
        this.apply(commit)
        if (commit.version > 0 && commit.version % this.config.checkpointEveryCommits === 0) await this.writeCheckpoint()
        return { commit, duplicate: false }
      }
      // Another writer took this version; re-read and try the next one.
    }
    throw new ColdpipeError('LAKE_COMMIT_CONFLICT', `gave up committing after ${maxCommitAttempts} conflicting writers`, {
      context: { runId: draft.runId, kind: draft.kind },
    })
  }

  private exportFilesOf(table: CommitDraft['replaceExportsOf']): string[] {
    if (!table) return []
    const paths: string[] = []
    for (const file of this.state.files.values()) {
      if (file.origin === 'export' && file.service === table.service && file.table === table.table) paths.push(file.path)
    }
    return paths
  }

  /** The state at `version` from memory: the latest, or one of the last N to 2N versions. */
  private stateInMemory(version: number): LakeState | undefined {
    if (version === this.state.version) return this.state
    if (version < this.base.version || version > this.state.version) return undefined
    const state = this.base.clone()
    for (const commit of this.tail) {
      if (commit.version > version) break
      state.apply(commit)
    }
    return state
  }

  /** Like stateInMemory, for callers that cannot wait: older versions need `span()`. */
  private stateNow(version: number): LakeState {
    const state = this.stateInMemory(version)
    if (state) return state
    throw new ColdpipeError('LAKE_VERSION_EXPIRED', `lake version ${version} is not held in memory (versions ${this.base.version}..${this.state.version} are); read it with span()`, {
      context: { version, oldestInMemory: this.base.version, latestVersion: this.state.version },
    })
  }

  /** The state at any retained version: from memory, else from the newest checkpoint at or before it. */
  private async stateAt(version: number): Promise<LakeState> {
    const held = this.stateInMemory(version)
    if (held) return held
    if (version > this.state.version) {
      throw new ColdpipeError('INTERNAL', `lake version ${version} is not committed (latest ${this.state.version})`, { context: { version, latestVersion: this.state.version } })
    }
    const { state, commits } = await resolveBase(this.layout, version)
    for (const commit of await this.readCommits(commits[0] ?? version + 1, version)) state.apply(commit)
    return state
  }

  /** Commits `from`..`to` (inclusive), from memory when held, else from their files. */
  private async readCommits(from: number, to: number): Promise<Commit[]> {
    const out: Commit[] = []
    for (let version = from; version <= to; version++) {
      const held = version > this.base.version && version <= this.state.version ? this.tail[version - this.base.version - 1] : undefined
      const commit = held ?? (await readCommitFile(this.layout, version))
      if (!commit) {
        throw new ColdpipeError('LAKE_VERSION_EXPIRED', `commit ${this.layout.commitFile(version)} was removed by log expiry`, { context: { version, file: this.layout.commitFile(version) } })
      }
      out.push(commit)
    }
    return out
  }

  /** A commit by version (tests, diagnostics); undefined when it was expired. */
  async readCommit(version: number): Promise<Commit | undefined> {
    return (await this.readCommits(version, version).catch(() => []))[0]
  }

  /**
   * What changed between two versions, for publish. With `ifExpired: 'rebuild'`, a `fromVersion` older than
   * the oldest retained checkpoint yields `fromVersion: undefined` (rebuild from the active set) instead of
   * LAKE_VERSION_EXPIRED.
   */
  async span(fromVersion: number | undefined, toVersion: number, options: { ifExpired?: 'throw' | 'rebuild' } = {}): Promise<LakeSpan> {
    const to = await this.stateAt(toVersion)
    // Copied before any await: the latest state is live and a commit of this process may change it.
    const now = new Map(to.files)
    const addedIn = new Map(to.addedIn)
    const compactedFrom = new Map(to.lineage)
    let before: LakeState | undefined
    if (fromVersion !== undefined) {
      try {
        before = await this.stateAt(fromVersion)
        for (const commit of await this.readCommits(fromVersion + 1, toVersion)) {
          for (const [out, inputs] of Object.entries(compactedFromOf(commit))) compactedFrom.set(out, inputs)
        }
      } catch (error) {
        if (options.ifExpired !== 'rebuild' || !isColdpipeError(error, 'LAKE_VERSION_EXPIRED')) throw error
        this.logger.warn({ lakeRoot: this.layout.root, fromVersion, toVersion }, 'lake version of the last snapshot was expired from the log; rebuilding from the active files')
        before = undefined
      }
    }
    return {
      fromVersion: before ? fromVersion : undefined,
      toVersion,
      before: new Map(before?.files ?? []),
      now,
      addedIn,
      compactedFrom,
    }
  }

  /** The files that make up the lake at `version` (default: latest, kept incrementally), by path. */
  activeFiles(version = this.latestVersion): Map<string, LakeFile> {
    return new Map(this.stateNow(version).files)
  }

  /** One file of the latest active set, without copying the set (for checks inside loops). */
  activeFile(path: string): LakeFile | undefined {
    return this.state.files.get(path)
  }

  /** The version that added each active file at the latest version. */
  addedIn(path: string): number | undefined {
    return this.state.addedIn.get(path)
  }

  /** The latest watermark of `key` as of the newest commit read (call refresh() first to see other writers). */
  watermark(key: string): Watermark | undefined {
    return this.state.marks.get(key)
  }

  /** The latest watermark per key at `version` (default: latest). */
  watermarks(version = this.latestVersion): Map<string, Watermark> {
    return new Map(this.stateNow(version).marks)
  }

  /** Files removed from the active set that retention may still have to delete (kept `keepTombstonesForMs`). */
  tombstones(): Map<string, Tombstone> {
    return new Map(this.state.tombstones)
  }
}
