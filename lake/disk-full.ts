import { statfs } from 'node:fs/promises'
import { ColdpipeError } from '../core/errors.ts'

const fullCodes = new Set(['ENOSPC', 'EDQUOT'])
/**
 * DuckDB reports a full disk only as text (its IO Error carries the OS's strerror, no errno), so this
 * foreign message is the one signal there is; our own errors are always told apart by code.
 */
const duckDbDiskFull = /No space left on device|Disk quota exceeded/i
/** Below this many free bytes a failed write is taken as a full disk, whatever the error said. */
export const diskFullBelowBytes = 8 * 1024 * 1024

/** True when a full disk is anywhere in the cause chain: our coded errors, Node's errno, or DuckDB's text. */
export function isDiskFullError(error: unknown): boolean {
  for (let at: unknown = error, depth = 0; at && depth < 8; at = (at as { cause?: unknown }).cause, depth++) {
    if (at instanceof ColdpipeError && (at.code === 'LAKE_DISK_FULL' || at.code === 'WAREHOUSE_DISK_FULL')) return true
    const code = (at as NodeJS.ErrnoException).code
    if (typeof code === 'string' && fullCodes.has(code)) return true
    if (at instanceof Error && !(at instanceof ColdpipeError) && duckDbDiskFull.test(at.message)) return true
  }
  return false
}

/**
 * Whether `error` came from a full volume under `dir`: the error says so, or else the volume's free space
 * measured now (before any clean-up frees it) is nearly gone.
 */
export async function isDiskFull(error: unknown, dir: string): Promise<boolean> {
  if (isDiskFullError(error)) return true
  try {
    const fs = await statfs(dir)
    return fs.bavail * fs.bsize < diskFullBelowBytes
  } catch {
    return false
  }
}
