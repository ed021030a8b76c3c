import { ColdpipeError, errorDefinitions, type ErrorCode } from '../core/errors.ts'
import type { Exporter, ExportProgressListener, ExportRunRecord } from '../ingest/export/index.ts'
import type { JobStageDeps } from './build-jobs.ts'

/**
 * An export run reports failed tables in its records rather than throwing (the other tables still commit);
 * for a job, any failed table fails the run, so the runner retries it and alerts. The error keeps the
 * first failure's code, so an open breaker is not retried while a dropped connection is.
 */
export function failOnFailedTables(source: string, records: ExportRunRecord[]): ExportRunRecord[] {
  const failed = records.filter((r) => r.status === 'failed')
  if (failed.length === 0) return records
  const first = failed[0]!.error
  const code = (first?.code && first.code in errorDefinitions ? first.code : 'EXPORT_FAILED') as ErrorCode
  const names = failed.map((r) => `${r.table}${r.error ? ` (${r.error.code}: ${r.error.message})` : ''}`).join('; ')
  throw new ColdpipeError(code, `export of ${source}: ${failed.length} of ${records.length} tables failed: ${names}`, {
    context: { source, failed: failed.map((r) => r.table), committed: records.filter((r) => r.status !== 'failed').map((r) => r.table) },
  })
}

/**
 * The export stage over an exporter: job options to runExport's, a half cursor range refused, and any failed
 * table failing the run. `onRecords` sees each attempt's records (the CLI prints the last as its summary).
 */
export function exportStage(
  exporter: Exporter,
  onRecords?: (records: ExportRunRecord[]) => void,
  onProgress?: ExportProgressListener,
): NonNullable<JobStageDeps['runExport']> {
  return async (source, options) => {
    const range = options.cursorRange
    if (range && (range.from === undefined || range.to === undefined)) {
      throw new ColdpipeError('JOB_OPTIONS_INVALID', 'a backfill needs both ends of the cursor range (from and to)', {
        context: { field: range.from === undefined ? 'cursorRange.from' : 'cursorRange.to' },
      })
    }
    const records = await exporter.runExport(source, {
      runId: options.runId,
      logger: options.logger,
      signal: options.signal,
      ...(options.full ? { full: true } : {}),
      ...(options.tables ? { tables: options.tables } : {}),
      ...(range ? { cursorRange: { from: range.from!, to: range.to! } } : {}),
      ...(onProgress ? { onProgress } : {}),
    })
    onRecords?.(records)
    return failOnFailedTables(source, records)
  }
}
