import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { createLogger, type Logger } from '../../core/logger.ts'
import { CommitLog } from '../../lake/index.ts'
import type { ExportTableConfig } from '../../ingest/export/index.ts'

/** A logger whose JSON records a test can look at. */
export function capturingLogger(level = 'info'): { logger: Logger; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = []
  const logger = createLogger({
    level,
    destination: new Writable({ write: (chunk, _e, done) => (records.push(JSON.parse(String(chunk))), done()) }),
  })
  return { logger, records }
}

/** Everything in the lake's scratch folder, recursively (zero-byte files included). */
export async function scratchFiles(lakeRoot: string): Promise<string[]> {
  const entries = await readdir(join(lakeRoot, '_tmp'), { recursive: true }).catch(() => [] as string[])
  return entries.map(String)
}

/** Whether the log holds any commit of `service.table` and its active rows. */
export async function committed(lakeRoot: string, service: string, table: string): Promise<{ rows: number; runIds: Set<string>; files: number }> {
  const log = await CommitLog.open(lakeRoot)
  const files = [...log.activeFiles().values()].filter((f) => f.service === service && f.table === table)
  return { rows: files.reduce((n, f) => n + f.rows, 0), runIds: new Set(files.map((f) => f.runId ?? '')), files: files.length }
}

export function fullTable(name: string, chunkRows = 20_000): ExportTableConfig {
  return { name, mode: 'full', lagSeconds: 0, chunkRows }
}

/** Retry and breaker settings small enough for a test, with a breaker that does not open on its own. */
export const quickRetries = { retryMaxAttempts: 3, retryInitialDelayMs: 20, retryMaxDelayMs: 200, breakerFailureThreshold: 50, breakerHalfOpenAfterMs: 60_000, connectTimeoutMs: 5_000 }
