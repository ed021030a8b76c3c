import { hostname } from 'node:os'
import type { JobLocks, LockState } from './job-lock.ts'
import type { RunRecord } from './job-types.ts'
import type { RunHistory } from './run-history.ts'

/** Owners of the runners alive in this process; a lock naming this pid but another owner is a previous incarnation's. */
const liveOwners = new Set<string>()

export function registerLiveOwner(owner: string): () => void {
  liveOwners.add(owner)
  return () => liveOwners.delete(owner)
}

const ownerPattern = /^(.+):(\d+):[0-9a-f]{8}$/

/**
 * True only when the lock's holder is known to be gone: a `host:pid:random` owner on this host whose pid is
 * not running (or is this process, restarted under the same pid, as in a container). Anything else (another
 * host, an owner id of another shape) is judged by its lease alone.
 */
export function ownerIsDead(owner: string): boolean {
  const match = ownerPattern.exec(owner)
  if (!match || match[1] !== hostname()) return false
  const pid = Number(match[2])
  if (pid === process.pid) return !liveOwners.has(owner)
  try {
    process.kill(pid, 0)
    return false
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH'
  }
}

/** Whether `lock` shows `record`'s run as still going: held for that very run, unexpired, by a live owner. */
export function lockShowsRunning(record: RunRecord, lock: LockState | undefined, locks: JobLocks): boolean {
  return lock !== undefined && lock.runId === record.runId && !locks.isExpired(lock) && !ownerIsDead(lock.owner)
}

/** Why a `running` record is not running, for the record shown (and written when it is marked). */
export function abandonedError(record: RunRecord, lock: LockState | undefined): { code: string; message: string; context: Record<string, unknown> } {
  const why =
    lock === undefined
      ? 'holds no lock'
      : lock.runId !== record.runId
        ? `lost its lock to run ${lock.runId} of ${lock.owner}`
        : ownerIsDead(lock.owner)
          ? 'is no longer alive'
          : `stopped renewing its lock (expired ${lock.expiresAt})`
  return {
    code: 'JOB_ABANDONED',
    message: `run ${record.runId} of job ${record.job} was left running by ${record.owner}, which ${why} (process died?)`,
    context: { job: record.job, runId: record.runId, owner: record.owner, ...(lock ? { lockOwner: lock.owner, lockRunId: lock.runId, lockExpiresAt: lock.expiresAt } : {}) },
  }
}

/**
 * Runs as they really are: a record still `running` whose run is not (its lock is gone, expired, taken by
 * another run, or held by a dead process) is shown failed with JOB_ABANDONED until a scheduler marks it so.
 */
export async function liveRuns(runs: RunRecord[], history: RunHistory, locks: JobLocks): Promise<RunRecord[]> {
  const lockOf = new Map<string, Promise<LockState | undefined>>()
  return Promise.all(
    runs.map(async (record) => {
      if (record.status !== 'running') return record
      if (!lockOf.has(record.job)) lockOf.set(record.job, locks.read(record.job).catch(() => undefined))
      const lock = await lockOf.get(record.job)
      if (lockShowsRunning(record, lock, locks)) return record
      // A run that just ended wrote its final record before releasing its lock: read it once more.
      const again = await history.get(record.job, record.runId).catch(() => undefined)
      if (again && again.status !== 'running') return again
      return { ...record, status: 'failed' as const, error: abandonedError(record, lock) }
    }),
  )
}

/** `abandoned` for a run that was (or is shown) abandoned, else its status. */
export function displayStatus(record: RunRecord): string {
  return record.status === 'failed' && record.error?.code === 'JOB_ABANDONED' ? 'abandoned' : record.status
}
