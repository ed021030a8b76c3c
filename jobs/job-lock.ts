import { randomUUID } from 'node:crypto'
import { link, mkdir, readFile, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ColdpipeError, messageOf } from '../core/errors.ts'
import { fsyncPath, LakeLayout } from '../lake/index.ts'

/** What `<lake>/_state/locks/<job>.json` holds. `nonce` changes with every write, so a reader can tell renewals apart. */
export interface LockState {
  job: string
  owner: string
  runId: string
  token: string
  nonce: string
  acquiredAt: string
  expiresAt: string
}

export interface LockHandle {
  readonly state: LockState
  /** Extends the lease; throws JOB_LEASE_LOST when the lock is no longer ours. */
  renew(): Promise<void>
  /** Removes the lock if still ours and unexpired; an expired lock is left for the next holder to take over. */
  release(): Promise<void>
}

export interface JobLockOptions {
  lakeRoot: string
  leaseMs: number
  now?: () => number
}

/**
 * One lock per job in the lake, so any number of coldpipe processes sharing a lake run a job at most once
 * at a time. The lock file is created put-if-absent (link of a finished temp file). An expired lock (its
 * holder died) is taken over by compare-and-swap: rename it aside, check the renamed file is the very
 * version judged expired (token + nonce), and only then create ours put-if-absent. If the rename caught a
 * fresher lock instead, it is put back. A holder renews only before its lease ends and a contender takes
 * over only after it ended, so the two never touch the file at once.
 */
export class JobLocks {
  readonly dir: string
  private readonly tmpDir: string
  private readonly leaseMs: number
  private readonly now: () => number

  constructor(options: JobLockOptions) {
    const layout = new LakeLayout(options.lakeRoot)
    this.dir = layout.locksDir
    this.tmpDir = layout.tmpDir
    this.leaseMs = options.leaseMs
    this.now = options.now ?? Date.now
  }

  path(job: string): string {
    return join(this.dir, `${job}.json`)
  }

  /** The current lock of a job, if any (expired or not). */
  async read(job: string): Promise<LockState | undefined> {
    return readLock(this.path(job))
  }

  isExpired(state: LockState): boolean {
    return Date.parse(state.expiresAt) <= this.now()
  }

  /**
   * Takes the job's lock, or returns undefined when a live holder has it. `previous` is set on takeover.
   * `holderIsDead` lets the caller take over an unexpired lock whose holder it knows to be gone.
   */
  async acquire(
    job: string,
    owner: string,
    runId: string,
    holderIsDead: (state: LockState) => boolean = () => false,
  ): Promise<{ handle: LockHandle; previous?: LockState } | undefined> {
    await mkdir(this.dir, { recursive: true })
    await mkdir(this.tmpDir, { recursive: true })
    const target = this.path(job)
    for (let attempt = 0; attempt < 5; attempt++) {
      const token = randomUUID()
      const state = this.freshState(job, owner, runId, token)
      if (await this.createIfAbsent(target, state)) return { handle: this.handle(state) }
      const current = await readLock(target)
      if (current === undefined) continue // released in between: try again
      if (!this.isExpired(current) && !holderIsDead(current)) return undefined
      if (!(await this.removeIfUnchanged(target, current))) return undefined
      if (await this.createIfAbsent(target, state)) return { handle: this.handle(state), previous: current }
      return undefined // another contender created a fresh lock after the removal
    }
    return undefined
  }

  private freshState(job: string, owner: string, runId: string, token: string): LockState {
    const now = this.now()
    return {
      job,
      owner,
      runId,
      token,
      nonce: randomUUID(),
      acquiredAt: new Date(now).toISOString(),
      expiresAt: new Date(now + this.leaseMs).toISOString(),
    }
  }

  private async createIfAbsent(target: string, state: LockState): Promise<boolean> {
    const temp = await this.writeTemp(state)
    try {
      await link(temp, target)
      await fsyncPath(this.dir)
      return true
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'EEXIST') return false
      throw ioError(`cannot create lock ${target}`, cause)
    } finally {
      await unlink(temp).catch(() => undefined)
    }
  }

  /** Compare-and-swap removal: true when exactly the `expected` version was removed by us. */
  private async removeIfUnchanged(target: string, expected: LockState): Promise<boolean> {
    const aside = `${target}.takeover-${randomUUID()}`
    try {
      await rename(target, aside)
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return false
      throw ioError(`cannot move lock ${target} aside`, cause)
    }
    const moved = await readLock(aside)
    if (moved && moved.token === expected.token && moved.nonce === expected.nonce) {
      await unlink(aside).catch(() => undefined)
      return true
    }
    // We caught a newer lock than the one we judged expired: put it back unless someone filled the gap.
    try {
      await link(aside, target)
    } catch {
      // The gap was filled; the moved lock's holder finds out at its next renewal (JOB_LEASE_LOST).
    }
    await unlink(aside).catch(() => undefined)
    return false
  }

  private async writeTemp(state: LockState): Promise<string> {
    const temp = join(this.tmpDir, `lock-${randomUUID()}.json`)
    await writeFile(temp, JSON.stringify(state))
    await fsyncPath(temp)
    return temp
  }

  private handle(initial: LockState): LockHandle {
    let state = initial
    const target = this.path(initial.job)
    const ours = async (): Promise<LockState | undefined> => {
      // A contender's put-back leaves the name empty for an instant; look twice before giving up.
      const first = await readLock(target)
      const current = first ?? (await new Promise((r) => setTimeout(r, 20)).then(() => readLock(target)))
      return current && current.token === state.token ? current : undefined
    }
    const lost = (why: string): ColdpipeError =>
      new ColdpipeError('JOB_LEASE_LOST', `lock of job ${state.job} is no longer held by ${state.owner}: ${why}`, {
        context: { job: state.job, runId: state.runId, lock: target },
      })
    return {
      get state() {
        return state
      },
      renew: async () => {
        if (this.isExpired(state)) throw lost('its lease expired before renewal')
        if (!(await ours())) throw lost('another process holds it')
        const next: LockState = { ...state, nonce: randomUUID(), expiresAt: new Date(this.now() + this.leaseMs).toISOString() }
        const temp = await this.writeTemp(next)
        try {
          await rename(temp, target)
        } catch (cause) {
          await unlink(temp).catch(() => undefined)
          throw ioError(`cannot renew lock ${target}`, cause)
        }
        state = next
      },
      release: async () => {
        if (this.isExpired(state) || !(await ours())) return
        await unlink(target).catch(() => undefined)
      },
    }
  }

  /** Takeover leftovers of crashed contenders; harmless, removed when older than a lease. */
  async removeLeftovers(): Promise<void> {
    let names: string[]
    try {
      names = await readdir(this.dir)
    } catch {
      return
    }
    for (const name of names.filter((n) => n.includes('.takeover-'))) {
      const path = join(this.dir, name)
      const info = await stat(path).catch(() => undefined)
      if (info && this.now() - info.mtimeMs > this.leaseMs) await unlink(path).catch(() => undefined)
    }
  }
}

async function readLock(path: string): Promise<LockState | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw ioError(`cannot read lock ${path}`, cause)
  }
  try {
    return JSON.parse(text) as LockState
  } catch {
    // Locks are only ever written whole (link/rename of a finished file); treat garbage as long expired.
    return { job: '', owner: 'unreadable', runId: '', token: `unreadable:${text.length}`, nonce: text, acquiredAt: '', expiresAt: new Date(0).toISOString() }
  }
}

function ioError(what: string, cause: unknown): ColdpipeError {
  return new ColdpipeError('LAKE_IO_FAILED', `${what}: ${messageOf(cause)}`, { cause })
}
