import { fork, type ChildProcess } from 'node:child_process'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CommitLog } from '../../lake/index.ts'
import { collectStatus, renderStatus } from '../../jobs/index.ts'
import { describeJobsFromConfig } from '../../cli/build-jobs.ts'
import { publish } from '../../warehouse/index.ts'
import type { SoakPipeline } from './soak-pipeline.ts'
import type { SoakSource } from './soak-source.ts'

/** One simulated day's row. */
export interface DayRow {
  day: number
  activeFiles: number
  maxFilesPerTable: number
  maxFilesTable: string
  commits: number
  commitsSinceCheckpoint: number
  logOpenMs: number
  statusMs: number
  /** Every hourly sample of the day: a window's verdict pools them (a day covers part of a checkpoint cycle). */
  logOpenSamples: number[]
  statusSamples: number[]
  publishMs: number
  /** Samples of the publish median that changed exactly one table (others had change files land meanwhile). */
  publishOneTable: number
  publishSamples: number
  /** Lake bytes per top-level folder (raw, compacted, _log, _state, …), to see what grows. */
  lakeBytesByDir: Record<string, number>
  /**
   * Bytes of the active files that hold row-version history, which the lake keeps by contract
   * (docs/lake-contract.md): change tables (every event) and incremental exports (every exported version
   * of a row, which publish's `__history` tables are built from). They grow with the changes landed,
   * however well maintenance works.
   */
  changeHistoryBytes: number
  /**
   * Data files on disk that are no longer active (removed by a newer export or compaction, or orphans),
   * which retention deletes once they are past its grace period: for a history table this is the previous
   * compaction output, a copy of the history up to `smallFileBytes` per table.
   */
  awaitingRetentionBytes: number
  /**
   * Job run records (`_state/jobs/<job>/`): the runner keeps the newest `historyKeepRuns` (500) per job, a
   * bound an hourly job reaches in three weeks and a nightly one in 500 days, so a month cannot show it flat.
   */
  runRecordBytes: number
  /** The most run records any one job holds; never above historyKeepRuns. */
  maxRunRecordsPerJob: number
  rssMb: number
  /** V8 heap in use; RSS growth beyond it is native (DuckDB, buffers) or allocator fragmentation. */
  heapMb: number
  lakeBytes: number
  warehouseBytes: number
  eventsLanded: number
  failedRuns: number
  wallSeconds: number
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]! ) / 2
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now()
  await work()
  return performance.now() - started
}

/** Bytes of the regular files under `dir` (symlinks such as current.duckdb are not counted twice). */
export async function treeBytes(dir: string): Promise<number> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])
  let bytes = 0
  for (const entry of entries) {
    if (!entry.isFile()) continue
    bytes += (await stat(join(entry.parentPath, entry.name)).catch(() => ({ size: 0 }))).size
  }
  return bytes
}

/**
 * The newest checkpoint's version, read from `_log/` names: any file there whose name starts with a
 * 20-digit version and mentions "checkpoint" (Delta Lake's `<version>.checkpoint.*` shape). The soak
 * only reads the lake's files, so it needs nothing of the log's checkpoint API but its file name.
 */
async function newestCheckpoint(logDir: string): Promise<number | undefined> {
  const names = await readdir(logDir).catch(() => [] as string[])
  let newest: number | undefined
  for (const name of names) {
    const match = /^(\d{20})\..*checkpoint/i.exec(name) ?? /checkpoint.*?(\d{20})/i.exec(name)
    if (match) newest = Math.max(newest ?? -1, Number(match[1]))
  }
  return newest
}

/**
 * Log open and `status` are sampled every simulated hour and judged by the day's median: an open reads the
 * newest checkpoint plus the commits after it (0 to checkpointEveryCommits), so one reading at the same
 * clock time each day would measure where that day's end fell in the checkpoint cycle, not the lake. Opens
 * are timed in a probe process (soak-open-probe.ts), as a reader like `coldpipe status` opens the log;
 * `status` is built in this process, as `coldpipe start` serves it.
 */
export class HourlySampler {
  private openMs: number[] = []
  private statusMs: number[] = []
  private readonly probe: ChildProcess

  constructor(private readonly pipeline: SoakPipeline, private readonly runs: number) {
    this.probe = fork(fileURLToPath(new URL('./soak-open-probe.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  }

  /** Log opens timed in the probe process (soak-open-probe.ts), one warm-up first. */
  private async probeOpens(): Promise<number[]> {
    const reply = new Promise<{ ms?: number[]; error?: string }>((resolve) => this.probe.once('message', resolve))
    this.probe.send({ lakeRoot: this.pipeline.lakeRoot, runs: this.runs + 1 })
    const { ms, error } = await reply
    if (!ms) throw new Error(`log open probe failed: ${error}`)
    return ms.slice(1)
  }

  async sample(): Promise<void> {
    const { pipeline } = this
    const lakeRoot = pipeline.lakeRoot
    this.openMs.push(...(await this.probeOpens()))
    // As `coldpipe status` builds it (cli/commands/status-command.ts), in process, rendered.
    for (let i = 0; i < this.runs; i++) {
      this.statusMs.push(
        await timed(async () => {
          const status = await collectStatus({
            lakeRoot,
            warehousePath: pipeline.warehousePath,
            jobs: describeJobsFromConfig(pipeline.config),
            sources: Object.keys(pipeline.config.sources),
          })
          renderStatus(status)
        }),
      )
    }
  }

  close(): void {
    this.probe.disconnect()
  }

  /** The day's medians and samples; starts the next day's samples. */
  takeDay(): { logOpenMs: number; statusMs: number; logOpenSamples: number[]; statusSamples: number[] } {
    const day = { logOpenMs: median(this.openMs), statusMs: median(this.statusMs), logOpenSamples: this.openMs, statusSamples: this.statusMs }
    this.openMs = []
    this.statusMs = []
    return day
  }
}

/** Bytes of the job run records and the most any one job holds. */
async function runRecords(jobRunsDir: string): Promise<{ bytes: number; maxPerJob: number }> {
  let maxPerJob = 0
  for (const job of await readdir(jobRunsDir).catch(() => [] as string[])) {
    const names = await readdir(join(jobRunsDir, job)).catch(() => [] as string[])
    maxPerJob = Math.max(maxPerJob, names.filter((name) => name.endsWith('.json') && !name.startsWith('_')).length)
  }
  return { bytes: await treeBytes(jobRunsDir), maxPerJob }
}

/** Measures the end of a simulated day: lake shape, the day's log open and status samples, a one-table publish, memory, bytes. */
export async function measureDay(p: {
  day: number
  sampler: HourlySampler
  publishRuns: number
  pipeline: SoakPipeline
  source: SoakSource
  /** Simulated time of the small changes. */
  at: Date
  wallSeconds: number
  failedRuns: number
}): Promise<DayRow> {
  const { pipeline } = p
  const lakeRoot = pipeline.lakeRoot
  const log = await CommitLog.open(lakeRoot)
  const perTable = new Map<string, number>()
  const changeTables = new Set((pipeline.config.changes?.topics ?? []).map((t) => `${t.service}.${t.table ?? 'events'}`))
  let changeHistoryBytes = 0
  let activeBytes = 0
  for (const file of log.activeFiles().values()) {
    activeBytes += file.bytes
    const id = `${file.service}.${file.table}`
    perTable.set(id, (perTable.get(id) ?? 0) + 1)
    if (changeTables.has(id) || (file.origin === 'export' && file.mode === 'incremental')) changeHistoryBytes += file.bytes
  }
  const [maxFilesTable, maxFilesPerTable] = [...perTable].sort((a, b) => b[1] - a[1])[0] ?? ['-', 0]
  const checkpoint = await newestCheckpoint(log.layout.logDir)
  const commits = log.latestVersion + 1

  // A small change: catch the snapshot up, then one table gains a few changed rows and is published.
  const publishOptions = { lakeRoot, warehouse: pipeline.config.warehouse, logger: pipeline.logger }
  await publish(publishOptions)
  // Change ingest keeps landing meanwhile; a publish that also took its files is not a one-table change,
  // so such samples are set aside (and a few more taken) unless no clean one comes.
  const oneTable: number[] = []
  const other: number[] = []
  for (let i = 0; i < p.publishRuns * 3 && oneTable.length < p.publishRuns; i++) {
    await p.source.smallChange(new Date(p.at.getTime() + i))
    await pipeline.run('export:crm', { tables: ['accounts'] })
    let result: Awaited<ReturnType<typeof publish>> | undefined
    const ms = await timed(async () => (result = await publish(publishOptions)))
    const info = (result?.published ? result.manifest.info : undefined) as { tablesMerged?: string[]; tablesRebuilt?: string[] } | undefined
    const tables = (info?.tablesMerged?.length ?? 0) + (info?.tablesRebuilt?.length ?? 0)
    ;(tables === 1 ? oneTable : other).push(ms)
  }
  const publishMs = oneTable.length > 0 ? oneTable : other
  const lakeBytesByDir: Record<string, number> = {}
  for (const entry of await readdir(lakeRoot, { withFileTypes: true })) {
    const path = join(lakeRoot, entry.name)
    lakeBytesByDir[entry.name] = entry.isDirectory() ? await treeBytes(path) : entry.isFile() ? (await stat(path)).size : 0
  }
  const records = await runRecords(log.layout.jobRunsDir)
  return {
    day: p.day,
    runRecordBytes: records.bytes,
    maxRunRecordsPerJob: records.maxPerJob,
    activeFiles: [...perTable.values()].reduce((a, b) => a + b, 0),
    maxFilesPerTable,
    maxFilesTable,
    commits,
    commitsSinceCheckpoint: checkpoint === undefined ? commits : commits - 1 - checkpoint,
    ...p.sampler.takeDay(),
    publishMs: median(publishMs),
    publishOneTable: oneTable.length,
    publishSamples: publishMs.length,
    rssMb: Math.round(process.memoryUsage().rss / 1024 / 1024),
    heapMb: Math.round(process.memoryUsage().heapUsed / 1024 / 1024),
    lakeBytes: Object.values(lakeBytesByDir).reduce((a, b) => a + b, 0),
    lakeBytesByDir,
    changeHistoryBytes,
    awaitingRetentionBytes: Math.max(0, (lakeBytesByDir.raw ?? 0) + (lakeBytesByDir.compacted ?? 0) - activeBytes),
    warehouseBytes: await treeBytes(pipeline.warehousePath),
    eventsLanded: pipeline.ingest.stats().rowsLanded,
    failedRuns: p.failedRuns,
    wallSeconds: p.wallSeconds,
  }
}
