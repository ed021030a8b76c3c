import { readFile } from 'node:fs/promises'
import { isColdpipeError, messageOf } from '../core/errors.ts'
import { silentLogger, type Logger } from '../core/logger.ts'
import { LakeLayout, writeFileAtomic } from '../lake/index.ts'

export type MaintenanceKind = 'compaction' | 'retention'

/** The last result of one maintenance kind, kept so `coldpipe status` can show it however it was run. */
export interface MaintenanceRecord {
  kind: MaintenanceKind
  startedAt: string
  endedAt: string
  status: 'succeeded' | 'failed'
  /** What it did (counts), when it succeeded. */
  summary?: Record<string, unknown>
  error?: { code: string; message: string; context?: Record<string, unknown> }
}

function recordFile(lakeRoot: string, kind: MaintenanceKind): string {
  return new LakeLayout(lakeRoot).maintenanceFile(kind)
}

/** One file per kind, overwritten atomically: the record does not grow with runs. */
export async function writeMaintenanceRecord(lakeRoot: string, record: MaintenanceRecord): Promise<void> {
  await writeFileAtomic(new LakeLayout(lakeRoot).tmpDir, recordFile(lakeRoot, record.kind), JSON.stringify(record, null, 2))
}

export async function readMaintenanceRecord(lakeRoot: string, kind: MaintenanceKind): Promise<MaintenanceRecord | undefined> {
  try {
    return JSON.parse(await readFile(recordFile(lakeRoot, kind), 'utf8')) as MaintenanceRecord
  } catch {
    // Never run, or a torn read of a record another process is replacing: status shows it as unknown.
    return undefined
  }
}

/**
 * Runs one maintenance pass and records how it ended. A failure is recorded and rethrown, so the job run
 * fails and alerts; a failure to record the result never hides the pass's own outcome.
 */
export async function recordedMaintenance<T>(
  lakeRoot: string,
  kind: MaintenanceKind,
  summarize: (result: T) => Record<string, unknown>,
  work: () => Promise<T>,
  logger: Logger = silentLogger,
): Promise<T> {
  const startedAt = new Date().toISOString()
  const write = (record: Omit<MaintenanceRecord, 'kind' | 'startedAt' | 'endedAt'>) =>
    writeMaintenanceRecord(lakeRoot, { kind, startedAt, endedAt: new Date().toISOString(), ...record }).catch((error: unknown) =>
      // A full disk can refuse even this small file; the run's own outcome (and its alert) still stands.
      logger.warn({ kind, status: record.status, err: messageOf(error) }, 'could not record the maintenance result for status'),
    )
  try {
    const result = await work()
    await write({ status: 'succeeded', summary: summarize(result) })
    return result
  } catch (error) {
    const coded = isColdpipeError(error) ? { code: error.code, message: error.message, context: error.context } : { code: 'INTERNAL', message: messageOf(error) }
    await write({ status: 'failed', error: coded })
    throw error
  }
}
