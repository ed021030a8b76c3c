import type { RunWarning } from '../jobs/job-types.ts'
import type { PublishResult } from '../warehouse/index.ts'

/**
 * A publish that quarantined a lake file succeeded (the other tables are current), but the table it
 * belongs to is stale until someone re-lands it: each quarantined file becomes a warning, which alerts.
 */
export function withQuarantineWarnings(result: PublishResult): PublishResult & { warnings?: RunWarning[] } {
  const quarantined = result.published ? ((result.manifest.info?.quarantined ?? []) as { path: string; table: string; reason: string }[]) : []
  if (quarantined.length === 0) return result
  return {
    ...result,
    warnings: quarantined.map((q) => ({
      code: 'LAKE_FILE_CORRUPT',
      message: `lake file ${q.path} of table ${q.table} was unreadable and quarantined; the table keeps its previous state until it is re-landed (${q.reason})`,
      context: { path: q.path, table: q.table },
    })),
  }
}
