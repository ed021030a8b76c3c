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
    this.dir = join(layout.stateDir, 'jobs')
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

  /** A job's runs, newest first. */
  async runs(job: string, limit = Infinity): Promise<RunRecord[]> {
    let names: string[]
    try {
      names = await readdir(this.jobDir(job))
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw new ColdpipeError('LAKE_IO_FAILED', `cannot list run history of ${job}: ${messageOf(cause)}`, { cause })
    }
    const records = await Promise.all(
      names.filter((n) => n.endsWith('.json') && !n.startsWith('_')).map((n) => readRecord(join(this.jobDir(job), n))),
    )
    return records
      .filter((r): r is RunRecord => r !== undefined)
      .sort((a, b) => b.startedAt.localeCompare(a.startedAt) || b.runId.localeCompare(a.runId))
      .slice(0, limit)
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

  /** Drops the oldest finished runs beyond `keepRuns`. */
  async prune(job: string): Promise<number> {
    const runs = await this.runs(job)
    const old = runs.slice(this.keepRuns).filter((r) => r.status !== 'running')
    for (const run of old) await unlink(join(this.jobDir(job), `${run.runId}.json`)).catch(() => undefined)
    return old.length
  }
}

async function readRecord(path: string): Promise<RunRecord | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as RunRecord
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new ColdpipeError('LAKE_IO_FAILED', `cannot read run record ${path}: ${messageOf(cause)}`, { cause })
  }
}
