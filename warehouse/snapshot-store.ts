import { constants } from 'node:fs'
import { copyFile, mkdir, readdir, readFile, readlink, rename, rm, stat, symlink } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import { openDatabase, type Database } from '../core/duckdb/index.ts'
import { ColdpipeError, messageOf } from '../core/errors.ts'
import type { Watermark } from '../lake/index.ts'
import { moveIntoPlace, tempFileIn, writeFileAtomic } from '../lake/index.ts'
import type { StaleTable } from './quarantine.ts'
import { sandboxSettings } from './sql-sandbox.ts'
import { tableFilePaths, tablesDirName, type TableFiles } from './table-files.ts'

export interface SnapshotTable {
  schema: string
  name: string
  rows: number
}

/** What a published snapshot holds and how fresh it is; written beside the DuckDB file. */
export interface SnapshotManifest {
  id: number
  publishedAt: string
  /** The lake commit version the snapshot reflects. */
  lakeVersion: number
  /** Relative to the warehouse folder. */
  file: string
  watermarks: Watermark[]
  tables: SnapshotTable[]
  /** Set when this snapshot was built from the previous one plus changes, not from scratch. */
  basedOn?: number
  /** Per source table (`service.table`): the immutable files its views read (absent in snapshots before this layout). */
  tableFiles?: Record<string, TableFiles>
  /** Absolute folder the views' paths point into (readers that sandbox file access allow exactly this one). */
  tablesDir?: string
  /** Tables kept at an older state because a lake file of theirs was quarantined, and why. */
  stale?: StaleTable[]
  info?: Record<string, unknown>
}

export interface OpenReadOnlyOptions {
  memoryLimit?: string
  threads?: number
  /** DuckDB settings over the sandbox's (a reader may tighten them; loosening is what `localFiles` is for). */
  settings?: Record<string, string>
  /** Lets statements read and write local files (external access on); the rest of the sandbox stays. */
  localFiles?: boolean
  /** Extra folders the sandboxed instance may read and write (the reports API's stream pipes, see result-stream.ts). */
  allowedDirectories?: string[]
}

const currentLinkName = 'current.duckdb'

function snapshotName(id: number): string {
  return String(id).padStart(8, '0')
}

/**
 * Published snapshots on disk. A snapshot file is written once, under a temp name, and never opened
 * read-write after `publish`; the `current.duckdb` symlink is swapped with one rename, so a reader
 * resolves either the old or the new snapshot, never a half-built one.
 */
export class SnapshotStore {
  constructor(readonly dir: string) {}

  get snapshotsDir(): string {
    return join(this.dir, 'snapshots')
  }

  get tmpDir(): string {
    return join(this.dir, '_tmp')
  }

  /** Per-table Parquet files that snapshots' views read; shared by every snapshot that did not change them. */
  get tablesDir(): string {
    return join(this.dir, tablesDirName)
  }

  get currentLink(): string {
    return join(this.dir, currentLinkName)
  }

  databasePath(id: number): string {
    return join(this.snapshotsDir, `${snapshotName(id)}.duckdb`)
  }

  manifestPath(id: number): string {
    return join(this.snapshotsDir, `${snapshotName(id)}.json`)
  }

  /** A scratch path for building the next snapshot. */
  async newBuildPath(): Promise<string> {
    await mkdir(this.tmpDir, { recursive: true })
    return tempFileIn(this.tmpDir, '.duckdb')
  }

  /**
   * A scratch copy of snapshot `id`'s DuckDB file to build the next one on, so the views of tables that did not
   * change are kept as they are instead of re-bound (binding reads every file's footer). The file holds views,
   * metadata and read models only; a copy-on-write clone where the file system has one.
   */
  async copyForBuild(id: number, buildPath: string): Promise<void> {
    await copyFile(this.databasePath(id), buildPath, constants.COPYFILE_FICLONE)
  }

  /** The id the current pointer names, or undefined before the first publish. */
  async currentId(): Promise<number | undefined> {
    try {
      const target = await readlink(this.currentLink)
      const match = /(\d{8})\.duckdb$/.exec(target)
      return match ? Number(match[1]) : undefined
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw new ColdpipeError('WAREHOUSE_QUERY_FAILED', `cannot read ${this.currentLink}: ${messageOf(cause)}`, { cause })
    }
  }

  async current(): Promise<SnapshotManifest | undefined> {
    const id = await this.currentId()
    return id === undefined ? undefined : this.get(id)
  }

  async get(id: number): Promise<SnapshotManifest> {
    try {
      return JSON.parse(await readFile(this.manifestPath(id), 'utf8')) as SnapshotManifest
    } catch (cause) {
      throw new ColdpipeError('WAREHOUSE_SNAPSHOT_NOT_FOUND', `snapshot ${id} does not exist in ${this.snapshotsDir}`, {
        cause,
        context: { snapshot: id },
      })
    }
  }

  /** Ids of every snapshot with a manifest, oldest first. */
  async list(): Promise<number[]> {
    let names: string[]
    try {
      names = await readdir(this.snapshotsDir)
    } catch {
      return []
    }
    return names
      .filter((name) => /^\d{8}\.json$/.test(name))
      .map((name) => Number(name.slice(0, 8)))
      .sort((a, b) => a - b)
  }

  async nextId(): Promise<number> {
    const ids = await this.list()
    return (ids.at(-1) ?? 0) + 1
  }

  /**
   * Moves a finished, closed DuckDB file into place as snapshot `manifest.id`, writes its manifest,
   * then swaps the current pointer. A crash before the swap leaves the previous snapshot current.
   */
  async publish(buildPath: string, manifest: Omit<SnapshotManifest, 'file'>): Promise<SnapshotManifest> {
    await mkdir(this.snapshotsDir, { recursive: true })
    const full: SnapshotManifest = { ...manifest, file: `snapshots/${snapshotName(manifest.id)}.duckdb` }
    await moveIntoPlace(buildPath, this.databasePath(manifest.id))
    await writeFileAtomic(this.tmpDir, this.manifestPath(manifest.id), JSON.stringify(full, null, 2))
    const tempLink = tempFileIn(this.tmpDir, '.link')
    await symlink(full.file, tempLink)
    await rename(tempLink, this.currentLink)
    return full
  }

  /**
   * Opens a published snapshot read-only for a reader; any number of readers may hold it while newer ones
   * publish. Every reader gets the engine sandbox (sandboxSettings): no file or network access except the
   * snapshot's own table files, extensions neither installed nor loaded, configuration locked.
   * `localFiles` keeps the rest of the sandbox but lets a local user's statements read and write files
   * (`coldpipe sql --allow-local-files`).
   */
  async openReadOnly(id?: number, options: OpenReadOnlyOptions = {}): Promise<{ db: Database; manifest: SnapshotManifest }> {
    const snapshotId = id ?? (await this.currentId())
    if (snapshotId === undefined) {
      throw new ColdpipeError('WAREHOUSE_NO_SNAPSHOT', `no snapshot has been published in ${this.dir} yet (run \`coldpipe publish\`)`, {
        context: { warehouse: this.dir },
      })
    }
    const manifest = await this.get(snapshotId)
    const settings = { ...sandboxSettings(options.memoryLimit), ...options.settings }
    if (options.localFiles) delete settings.enable_external_access
    // A sandbox that refuses file access must still let the snapshot's own views read their table files.
    const sandboxed = settings.enable_external_access === 'false'
    const allowedDirectories = sandboxed ? [...(manifest.tablesDir ? [`${manifest.tablesDir}${sep}`] : []), ...(options.allowedDirectories ?? [])] : []
    const db = await openDatabase(this.databasePath(snapshotId), {
      memoryLimit: options.memoryLimit,
      threads: options.threads,
      settings,
      readOnly: true,
      ...(allowedDirectories.length > 0 ? { allowedDirectories } : {}),
    })
    return { db, manifest }
  }

  /**
   * Removes table files no kept snapshot references (replaced tables, and those of a crashed publish once
   * older than `graceMs`, as a publish may be writing them right now). Returns their warehouse-relative paths.
   */
  async removeUnreferencedTableFiles(graceMs: number, now = Date.now()): Promise<string[]> {
    const referenced = new Set<string>()
    for (const id of await this.list()) {
      const manifest = await this.get(id)
      for (const files of Object.values(manifest.tableFiles ?? {})) for (const path of tableFilePaths(files)) referenced.add(path)
    }
    let entries
    try {
      entries = await readdir(this.tablesDir, { withFileTypes: true, recursive: true })
    } catch {
      return []
    }
    const removed: string[] = []
    for (const entry of entries) {
      if (!entry.isFile()) continue
      const absolute = join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name)
      const path = relative(this.dir, absolute).split(sep).join('/')
      if (referenced.has(path)) continue
      const info = await stat(absolute).catch(() => undefined)
      if (!info || now - info.mtimeMs < graceMs) continue
      await rm(absolute, { force: true })
      removed.push(path)
    }
    return removed
  }

  /** Deletes a snapshot's files; never the current one. */
  async remove(id: number): Promise<void> {
    if ((await this.currentId()) === id) return
    await rm(this.manifestPath(id), { force: true })
    await rm(this.databasePath(id), { force: true })
    await rm(`${this.databasePath(id)}.wal`, { force: true })
  }
}
