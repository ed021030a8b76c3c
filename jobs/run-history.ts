import { randomUUID } from 'node:crypto'
import { link, mkdir, readdir, readFile, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ColdpipeError, messageOf } from '../core/errors.ts'
import { LakeLayout, writeFileAtomic } from '../lake/index.ts'
import type { RunRecord } from './job-types.ts'

/**
 * Durable run history in the lake: `<lake>/_state/jobs/<job>/<runId>.json`, one file per run, each write
 * atomic (temp + fsync + rename), so a reader sees a run's previous state or its new one, never a part.
 * Every process sharing the lake sees every process's runs.
 */
export class RunHistory {
  readonly dir: string
  private readonly tmpDir: string

  constructor(lakeRoot: string, private readonly keepRuns = 500) {
    const layout = new LakeLayout(lakeRoot)
    this.dir = layout.jobRunsDir
    this.tmpDir = layout.tmpDir
  }

  private jobDir(job: string): string {
    return join(this.dir, job)
  }

  async write(record: RunRecord): Promise<void> {
    await writeFileAtomic(this.tmpDir, join(this.jobDir(record.job), `${record.runId}.json`), JSON.stringify(record, null, 2))
  }

  async get(job: string, runId: string): Promise<RunRecord | undefined> {
    return readRecord(join(this.jobDir(job), `${runId}.json`))
  }

  /**
   * A job's runs, newest first. Run ids made by newRunId carry their start time, so only the newest
   * `limit` files (and those whose names carry no time, from `--run-id`) are read: the cost follows the
   * limit, not the length of the history kept.
   */
  async runs(job: string, limit = Infinity): Promise<RunRecord[]> {
    const names = await this.recordNames(job)
    const records = await Promise.all(newestNames(names, limit).map((n) => readRecord(join(this.jobDir(job), n))))
    return records
      .filter((r): r is RunRecord => r !== undefined)
      .sort((a, b) => b.startedAt.localeCompare(a.startedAt) || b.runId.localeCompare(a.runId))
      .slice(0, limit)
  }

  private async recordNames(job: string): Promise<string[]> {
    try {
      return (await readdir(this.jobDir(job))).filter((n) => n.endsWith('.json') && !n.startsWith('_'))
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw new ColdpipeError('LAKE_IO_FAILED', `cannot list run history of ${job}: ${messageOf(cause)}`, { cause })
    }
  }

  /** Every job that has history, by name. */
  async jobs(): Promise<string[]> {
    try {
      return (await readdir(this.dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort()
    } catch {
      return []
    }
  }

  async latest(job: string): Promise<RunRecord | undefined> {
    return (await this.runs(job, 1))[0]
  }

  /**
   * When the job was first seen by a scheduler on this lake (written once, put-if-absent). Catch-up only
   * counts schedule slots after it, so a fresh install does not fire every job at its first start.
   */
  async registeredAt(job: string, now: Date): Promise<Date> {
    const file = join(this.jobDir(job), '_registered.json')
    const existing = await readFile(file, 'utf8').catch(() => undefined)
    if (existing) return new Date((JSON.parse(existing) as { at: string }).at)
    await mkdir(this.jobDir(job), { recursive: true })
    await mkdir(this.tmpDir, { recursive: true })
    const temp = join(this.tmpDir, `registered-${randomUUID()}.json`)
    await writeFile(temp, JSON.stringify({ job, at: now.toISOString() }))
    try {
      await link(temp, file)
    } catch {
      // Another process registered it first; theirs stands.
    } finally {
      await unlink(temp).catch(() => undefined)
    }
    return new Date((JSON.parse(await readFile(file, 'utf8')) as { at: string }).at)
  }

  /** Drops the oldest finished runs beyond `keepRuns`, reading only those beyond it. */
  async prune(job: string): Promise<number> {
    const names = await this.recordNames(job)
    if (names.length <= this.keepRuns) return 0
    const keep = new Set(newestNames(names, this.keepRuns))
    let removed = 0
    for (const name of names.filter((n) => !keep.has(n))) {
      const run = await readRecord(join(this.jobDir(job), name))
      if (!run || run.status === 'running') continue
      await unlink(join(this.jobDir(job), name)).catch(() => undefined)
      removed++
    }
    return removed
  }
}

/** `<kind>-<yyyymmddThhmmssZ>-<8 hex>.json`, as newRunId names runs. */
const stampedName = /-(\d{8}T\d{6}Z)-[0-9a-f]{8}\.json$/

/**
 * The names among which the newest `limit` runs are: the `limit` newest by the time in their name (all
 * that share the boundary's second, which the name cannot order), and every name without a time.
 */
function newestNames(names: string[], limit: number): string[] {
  if (names.length <= limit) return names
  const stamped = names.map((name) => ({ name, stamp: stampedName.exec(name)?.[1] })).filter((n): n is { name: string; stamp: string } => n.stamp !== undefined)
  const unstamped = names.filter((name) => !stampedName.test(name))
  stamped.sort((a, b) => b.stamp.localeCompare(a.stamp))
  const boundary = stamped[Math.min(limit, stamped.length) - 1]?.stamp
  return [...unstamped, ...stamped.filter((n) => boundary !== undefined && n.stamp >= boundary).map((n) => n.name)]
}

async function readRecord(path: string): Promise<RunRecord | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as RunRecord
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new ColdpipeError('LAKE_IO_FAILED', `cannot read run record ${path}: ${messageOf(cause)}`, { cause })
  }
}
