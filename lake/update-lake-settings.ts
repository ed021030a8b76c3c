import { ColdpipeError } from '../core/errors.ts'
import { writeFileAtomic } from './atomic-file.ts'
import { CommitLog } from './commit-log.ts'
import { readLakeFormat } from './lake-format.ts'
import { LakeLayout } from './lake-layout.ts'
import { lakeSettingNames, parseLakeSettings, type LakeSettings } from './lake-settings.ts'

/**
 * Changes the lake's settings: `set` keys are written, `unset` keys go back to the defaults. Opens the log
 * first, so a new lake is created (with its `_lake.json`) and an older one migrated. Processes read the
 * settings when they open the log: a long-running one (`coldpipe start`) applies a change after a restart.
 */
export async function updateLakeSettings(lakeRoot: string, change: { set?: LakeSettings; unset?: string[] }): Promise<LakeSettings> {
  const layout = new LakeLayout(lakeRoot)
  for (const name of change.unset ?? []) {
    if (!(lakeSettingNames as string[]).includes(name)) {
      throw new ColdpipeError('CONFIG_INVALID', `${layout.formatFile}: ${name} is not a lake setting (known: ${lakeSettingNames.join(', ')})`, { context: { path: name } })
    }
  }
  const set = parseLakeSettings(change.set ?? {}, `${layout.formatFile} settings`)
  await CommitLog.open(lakeRoot)
  const doc = await readLakeFormat(layout)
  const settings: LakeSettings = { ...doc?.settings, ...set }
  for (const name of change.unset ?? []) delete settings[name as keyof LakeSettings]
  const next = { ...doc, settings }
  await writeFileAtomic(layout.tmpDir, layout.formatFile, JSON.stringify(next, null, 2) + '\n')
  return settings
}
