import { existsSync } from 'node:fs'
import type { ColdpipeConfig } from '../config/index.ts'
import { messageOf } from '../../core/errors.ts'
import { CommitLog, LakeLayout } from '../../lake/index.ts'
import { SnapshotStore } from '../../warehouse/snapshot-store.ts'
import { fail, ok, warn, type CheckResult } from './check-result.ts'
import { reportsFolderExists } from './reports-folder.ts'
import { probeWritable } from './writable-folder.ts'

async function writableCheck(subject: string, folder: string, setting: string): Promise<CheckResult> {
  const probe = await probeWritable(folder)
  if (!probe.writable) return fail(subject, 'writable', `cannot create files in ${probe.probed} (${probe.error})`, `give this user write access to ${probe.probed}, or point ${setting} elsewhere`)
  return ok(subject, 'writable', probe.exists ? `${folder} is writable` : `${folder} does not exist yet; it will be created in ${probe.probed} (writable)`)
}

/** The lake folder can be written, and its format file and commit log (when present) can be read by this coldpipe. */
export async function checkLake(config: ColdpipeConfig): Promise<CheckResult[]> {
  const results = [await writableCheck('lake', config.lake, 'lake')]
  const layout = new LakeLayout(config.lake)
  if (!existsSync(layout.logDir)) {
    results.push(ok('lake', 'format', 'empty lake: nothing exported yet'))
    return results
  }
  try {
    // Inspect mode reads without migrating or writing anything.
    const log = await CommitLog.open(config.lake, { inspect: true })
    if (log.corrupt) {
      results.push(fail('lake', 'log', `commit ${log.corrupt.version} cannot be read: ${log.corrupt.file} (${log.corrupt.reason})`, 'see docs/operations.md on a corrupt lake log; lake writers stop at this version'))
    } else {
      results.push(ok('lake', 'format', `lake version ${log.latestVersion} readable`))
    }
  } catch (error) {
    results.push(fail('lake', 'format', `cannot read the lake: ${messageOf(error)}`, 'an unsupported format needs a newer coldpipe; an I/O error needs the folder fixed'))
  }
  return results
}

/** The warehouse folder can be written and its current snapshot (when one is published) opens; the report and model folders exist. */
export async function checkWarehouse(config: ColdpipeConfig, reportsDir: string): Promise<CheckResult[]> {
  const results = [await writableCheck('warehouse', config.warehouse.path, 'warehouse.path')]
  const store = new SnapshotStore(config.warehouse.path)
  try {
    if ((await store.currentId()) === undefined) {
      results.push(warn('warehouse', 'snapshot', 'no snapshot published yet: reports answer WAREHOUSE_NO_SNAPSHOT until one is', 'run `coldpipe publish` after the first export, or set jobs.publish.schedule'))
    } else {
      const { db, manifest } = await store.openReadOnly()
      db.close()
      results.push(ok('warehouse', 'snapshot', `current snapshot #${manifest.id} opens (published ${manifest.publishedAt})`))
    }
  } catch (error) {
    results.push(fail('warehouse', 'snapshot', `the current snapshot cannot be opened: ${messageOf(error)}`, 'publish a new snapshot with `coldpipe publish --force`'))
  }
  if (config.models && !existsSync(config.models)) results.push(fail('warehouse', 'models', `models folder ${config.models} does not exist`, 'create it or fix `models`'))
  results.push(
    reportsFolderExists(reportsDir)
      ? ok('reports', 'folder', `${reportsDir} exists`)
      : fail('reports', 'folder', `reports folder ${reportsDir} does not exist: \`coldpipe serve\` refuses to run without it and \`start\` serves no reports`, `create it (one .sql file per report, see README), or set \`reports\``),
  )
  return results
}
