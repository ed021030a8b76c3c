import type { RegisterCommand } from '../command-context.ts'
import { ColdpipeError } from '../../core/errors.ts'
import { CommitLog, effectiveLakeSettings, lakeSettingNames, updateLakeSettings, type LakeSettings } from '../../lake/index.ts'

const collect = (value: string, previous: string[]): string[] => [...previous, value]

/** `key=value` pairs as numbers; the schema check (in updateLakeSettings) names a wrong key or value. */
function parseAssignments(pairs: string[]): LakeSettings {
  const settings: Record<string, unknown> = {}
  for (const pair of pairs) {
    const at = pair.indexOf('=')
    if (at <= 0) throw new ColdpipeError('REQUEST_INVALID', `--set ${pair}: expected key=value (e.g. keepTombstonesForMs=86400000)`, { context: { path: pair } })
    const raw = pair.slice(at + 1).trim()
    settings[pair.slice(0, at).trim()] = raw !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw
  }
  return settings as LakeSettings
}

/** `coldpipe lake settings [--set k=v] [--unset k]`: the lake's log settings, shared by every process that opens it. */
export const registerLakeCommand: RegisterCommand = (program, context) => {
  const lake = program.command('lake')
  lake
    .command('settings')
    .description('show or change the lake log settings kept in _lake.json (checkpoints, tombstones, log expiry)')
    .option('--set <key=value>', 'set a setting (repeatable)', collect, [])
    .option('--unset <key>', 'return a setting to its default (repeatable)', collect, [])
    .action(async (options: { set: string[]; unset: string[] }) => {
      const lakeRoot = (await context.config()).lake
      const stored =
        options.set.length > 0 || options.unset.length > 0
          ? await updateLakeSettings(lakeRoot, { set: parseAssignments(options.set), unset: options.unset })
          : await readStored(lakeRoot)
      const effective = effectiveLakeSettings(stored)
      for (const name of lakeSettingNames) process.stdout.write(`${name}\t${effective[name]}\t${name in stored ? 'lake' : 'default'}\n`)
    })
}

async function readStored(lakeRoot: string): Promise<LakeSettings> {
  // Inspect mode: showing the settings never creates or migrates a lake.
  const log = await CommitLog.open(lakeRoot, { inspect: true })
  return log.storedSettings
}
