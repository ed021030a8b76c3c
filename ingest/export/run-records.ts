import { readdir, rm, rmdir, stat } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { messageOf } from '../../core/errors.ts'
import type { Logger } from '../../core/logger.ts'
import { writeFileAtomic, type LakeLayout } from '../../lake/index.ts'
import type { ExportRunRecord } from './exporter.ts'

/**
 * Saves one run's table records to `_state/export-runs/<runId>/<source>.<table>.json` and prunes the
 * source's records to the newest `keep` runs, so the folder follows the schedule's recent past, not all of
 * history. Best effort: a full disk or a racing prune must not turn a finished export into a failed one
 * (the records are returned to the caller and kept in job run history either way).
 */
export async function saveRunRecords(layout: LakeLayout, source: string, runId: string, records: ExportRunRecord[], keep: number, logger: Logger): Promise<void> {
  try {
    // Independent files: written (and synced) side by side rather than one fsync after another.
    await Promise.all(
      records.map((record) => writeFileAtomic(layout.tmpDir, layout.exportRunFile(runId, source, record.table === '*' ? '_all' : record.table), JSON.stringify(record, null, 2))),
    )
  } catch (error) {
    logger.warn({ err: messageOf(error), source, runId }, 'could not save the export run records')
  }
  try {
    await pruneRunRecords(layout, source, keep)
  } catch (error) {
    logger.warn({ err: messageOf(error), source }, 'could not prune old export run records')
  }
}

/** Removes the records of `source` from all but its newest `keep` runs (by the time they were written). */
export async function pruneRunRecords(layout: LakeLayout, source: string, keep: number): Promise<number> {
  const root = layout.exportRunsDir
  const runs = await readdir(root).catch(() => [] as string[])
  const ours: { dir: string; files: string[]; at: number }[] = []
  // A sample path names this source's files the way the layout does, so a rename there is followed here.
  const prefix = basename(layout.exportRunFile('x', source, 'T')).slice(0, -'T.json'.length)
  // The folder holds every source's kept runs (each pruned to its `keep`): read all at once, not one round trip after another.
  await Promise.all(
    runs.map(async (run) => {
      const dir = join(root, run)
      const names = await readdir(dir).catch(() => [] as string[])
      const files = names.filter((n) => n.startsWith(prefix) && n.endsWith('.json'))
      if (files.length === 0) return
      const at = await stat(join(dir, files[0]!)).then((s) => s.mtimeMs, () => 0)
      ours.push({ dir, files, at })
    }),
  )
  ours.sort((a, b) => b.at - a.at)
  let removed = 0
  for (const run of ours.slice(keep)) {
    for (const file of run.files) await rm(join(run.dir, file), { force: true })
    // Another source's records of the same run id keep the folder.
    await rmdir(run.dir).catch(() => undefined)
    removed++
  }
  return removed
}
