import { link, mkdir, readdir, readFile, unlink, writeFile } from 'node:fs/promises'
import { ColdpipeError, messageOf } from '../core/errors.ts'
import { fsyncPath, tempFileIn } from './atomic-file.ts'
import { LakeLayout } from './lake-layout.ts'

/** One immutable data file the lake holds. */
export interface LakeFile {
  /** Relative to the lake root, `/`-separated. */
  path: string
  service: string
  table: string
  origin: 'changes' | 'export' | 'compaction'
  rows: number
  bytes: number
  /** Column names and DuckDB types, so readers can union files whose schemas drifted. */
  columns?: { name: string; type: string }[]
  /** Primary key columns, so the warehouse can merge versions of a row. */
  key?: string[]
  // exports
  runId?: string
  /** Incremental exports: the cursor column. */
  cursor?: string
  mode?: 'full' | 'incremental'
  part?: number
  // changes
  topic?: string
  partition?: number
  firstOffset?: string
  lastOffset?: string
}

/** How far a source has been landed: the position reached and the wall time the data reflects. */
export interface Watermark {
  /** Unique per position stream: `export:<service>.<table>`, `kafka:<topic>:<partition>`. */
  key: string
  service: string
  table: string
  kind: 'export-full' | 'export-cursor' | 'kafka-offset'
  /** Cursor value, Kafka offset or LSN, as text; null when a full export has no position. */
  position: string | null
  /** ISO time the landed data is current as of. */
  asOf: string
}

export interface CommitDraft {
  kind: 'export' | 'changes' | 'compaction' | 'retention' | 'dead-letter'
  runId: string
  /** A replay of the same work carries the same key, and commits nothing new. */
  idempotencyKey?: string
  add?: LakeFile[]
  /** Paths of files that stop being part of the lake's current state. */
  remove?: string[]
  watermarks?: Watermark[]
  /**
   * Commit only if each of these watermarks is still at this position (null: none yet). Two writers that
   * read the same watermark and landed overlapping work cannot both commit: the second gets
   * LAKE_WATERMARK_MOVED and redoes its work from the new position.
   */
  expectWatermarks?: Record<string, string | null>
  info?: Record<string, unknown>
}

export interface Commit {
  version: number
  committedAt: string
  kind: CommitDraft['kind']
  runId: string
  idempotencyKey?: string
  add: LakeFile[]
  remove: string[]
  watermarks: Watermark[]
  info?: Record<string, unknown>
}

export interface CommitResult {
  commit: Commit
  /** True when an earlier commit already carried this idempotency key, so nothing was written. */
  duplicate: boolean
}

const maxCommitAttempts = 100

/**
 * The lake's commit log: `_log/<version>.json`, one file per commit, created put-if-absent
 * (hard link of a finished temp file, which fails if the name exists), as Delta Lake's log does.
 * Data files become visible only once a commit that adds them exists.
 */
export class CommitLog {
  readonly layout: LakeLayout
  private commits: Commit[] = []
  private byKey = new Map<string, Commit>()
  private latestMarks = new Map<string, Watermark>()
  /** Serializes this instance's reads and commits; other processes are handled by put-if-absent. */
  private queue: Promise<unknown> = Promise.resolve()

  constructor(lakeRoot: string) {
    this.layout = new LakeLayout(lakeRoot)
  }

  static async open(lakeRoot: string): Promise<CommitLog> {
    const log = new CommitLog(lakeRoot)
    await mkdir(log.layout.logDir, { recursive: true })
    await mkdir(log.layout.tmpDir, { recursive: true })
    await log.refresh()
    return log
  }

  /** Latest committed version, or -1 for an empty lake. */
  get latestVersion(): number {
    return this.commits.length - 1
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

  private async readNewCommits(): Promise<void> {
    let names: string[]
    try {
      names = await readdir(this.layout.logDir)
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return
      throw new ColdpipeError('LAKE_IO_FAILED', `cannot list ${this.layout.logDir}: ${messageOf(cause)}`, { cause })
    }
    const versions = names
      .filter((name) => /^\d{20}\.json$/.test(name))
      .map((name) => Number(name.slice(0, 20)))
      .sort((a, b) => a - b)
    for (const version of versions) {
      if (version < this.commits.length) continue
      if (version !== this.commits.length) {
        throw new ColdpipeError('LAKE_LOG_CORRUPT', `commit log has a gap: found version ${version} after ${this.commits.length - 1}`, {
          context: { logDir: this.layout.logDir, version },
        })
      }
      this.remember(await this.readVersion(version))
    }
  }

  private async readVersion(version: number): Promise<Commit> {
    const file = this.layout.commitFile(version)
    try {
      return JSON.parse(await readFile(file, 'utf8')) as Commit
    } catch (cause) {
      throw new ColdpipeError('LAKE_LOG_CORRUPT', `cannot read commit ${file}: ${messageOf(cause)}`, {
        cause,
        context: { file, version },
      })
    }
  }

  private remember(commit: Commit): void {
    this.commits.push(commit)
    if (commit.idempotencyKey) this.byKey.set(commit.idempotencyKey, commit)
    for (const mark of commit.watermarks) this.latestMarks.set(mark.key, mark)
  }

  /** All commits after `version` (exclusive), oldest first. */
  since(version: number): Commit[] {
    return this.commits.slice(version + 1)
  }

  all(): readonly Commit[] {
    return this.commits
  }

  findByKey(idempotencyKey: string): Commit | undefined {
    return this.byKey.get(idempotencyKey)
  }

  commit(draft: CommitDraft): Promise<CommitResult> {
    return this.exclusive(() => this.commitNow(draft))
  }

  private async commitNow(draft: CommitDraft): Promise<CommitResult> {
    for (let attempt = 0; attempt < maxCommitAttempts; attempt++) {
      await this.readNewCommits()
      if (draft.idempotencyKey) {
        const existing = this.byKey.get(draft.idempotencyKey)
        if (existing) return { commit: existing, duplicate: true }
      }
      for (const [key, expected] of Object.entries(draft.expectWatermarks ?? {})) {
        const actual = this.watermark(key)?.position ?? null
        if (actual !== expected) {
          throw new ColdpipeError('LAKE_WATERMARK_MOVED', `watermark ${key} is at ${actual ?? 'nothing'}, not ${expected ?? 'nothing'} as this commit expected`, {
            context: { runId: draft.runId, kind: draft.kind, watermark: key, expected, actual },
          })
        }
      }
      const commit: Commit = {
        version: this.commits.length,
        committedAt: new Date().toISOString(),
        kind: draft.kind,
        runId: draft.runId,
        ...(draft.idempotencyKey ? { idempotencyKey: draft.idempotencyKey } : {}),
        add: draft.add ?? [],
        remove: draft.remove ?? [],
        watermarks: draft.watermarks ?? [],
        ...(draft.info ? { info: draft.info } : {}),
      }
      if (await this.tryCreate(commit)) {
        this.remember(commit)
        return { commit, duplicate: false }
      }
      // Another writer took this version; re-read and try the next one.
    }
    throw new ColdpipeError('LAKE_COMMIT_CONFLICT', `gave up committing after ${maxCommitAttempts} conflicting writers`, {
      context: { runId: draft.runId, kind: draft.kind },
    })
  }

  private async tryCreate(commit: Commit): Promise<boolean> {
    const temp = tempFileIn(this.layout.tmpDir, '.commit.json')
    const target = this.layout.commitFile(commit.version)
    try {
      await writeFile(temp, JSON.stringify(commit))
      await fsyncPath(temp)
      await link(temp, target)
      await fsyncPath(this.layout.logDir)
      return true
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'EEXIST') return false
      throw new ColdpipeError('LAKE_IO_FAILED', `cannot write commit ${target}: ${messageOf(cause)}`, {
        cause,
        context: { target },
      })
    } finally {
      await unlink(temp).catch(() => undefined)
    }
  }

  /** The files that make up the lake at `version` (default: latest), by path. */
  activeFiles(version = this.latestVersion): Map<string, LakeFile> {
    const files = new Map<string, LakeFile>()
    for (const commit of this.commits.slice(0, version + 1)) {
      for (const path of commit.remove) files.delete(path)
      for (const file of commit.add) files.set(file.path, file)
    }
    return files
  }

  /** The latest watermark of `key` as of the newest commit read (call refresh() first to see other writers). */
  watermark(key: string): Watermark | undefined {
    return this.latestMarks.get(key)
  }

  /** The latest watermark per key at `version` (default: latest). */
  watermarks(version = this.latestVersion): Map<string, Watermark> {
    if (version === this.latestVersion) return new Map(this.latestMarks)
    const marks = new Map<string, Watermark>()
    for (const commit of this.commits.slice(0, version + 1)) {
      for (const mark of commit.watermarks) marks.set(mark.key, mark)
    }
    return marks
  }
}
