import { Type, type Static } from '@sinclair/typebox'
import { validateConfig } from '../core/config/load-config.ts'
import { commitLogDefaults, type CommitLogConfig } from './commit-log-config.ts'

/**
 * The log settings a lake carries in `_lake.json`, as Delta Lake keeps `delta.checkpointInterval`,
 * `delta.deletedFileRetentionDuration` and `delta.logRetentionDuration` as table properties: every
 * process that opens the lake (ingest, exports, publish, retention, status) then checkpoints and prunes
 * alike, which a setting in one process's config file could not promise. Unset keys take
 * `commitLogDefaults`.
 */
export const LakeSettingsSchema = Type.Object(
  {
    checkpointEveryCommits: Type.Optional(Type.Integer({ minimum: 2 })),
    keepKeysForCommits: Type.Optional(Type.Integer({ minimum: 0 })),
    keepTombstonesForMs: Type.Optional(Type.Integer({ minimum: 0 })),
    expireKeepCommits: Type.Optional(Type.Integer({ minimum: 0 })),
    expireOlderThanMs: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
)
export type LakeSettings = Static<typeof LakeSettingsSchema>

export const lakeSettingNames = Object.keys(LakeSettingsSchema.properties) as (keyof LakeSettings)[]

/** Settings as stored, validated; CONFIG_INVALID names the file and the setting. */
export function parseLakeSettings(value: unknown, origin: string): LakeSettings {
  return validateConfig(LakeSettingsSchema, value ?? {}, origin)
}

/** What a lake's log runs with: the defaults, overridden by the lake's own settings. */
export function effectiveLakeSettings(settings: LakeSettings | undefined): CommitLogConfig {
  return { ...commitLogDefaults, ...settings }
}
