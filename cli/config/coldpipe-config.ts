import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { ChangesConfigSchema } from '../../ingest/changes/changes-config.ts'
import { ExportConfigSchema, SourceConfigSchema } from '../../ingest/export/export-config.ts'
import { JobsConfigSchema } from '../../jobs/jobs-config.ts'
import { MaskingRules, registerMasking } from '../../ingest/pii/masking-rules.ts'
import { piiConfigProblems, PiiConfigSchema } from '../../ingest/pii/pii-config.ts'
import { ApiConfigSchema } from '../../reports-api/api-config.ts'
import { WarehouseConfigSchema } from '../../warehouse/warehouse-config.ts'
import { configDir, configInvalid, interpolateEnv, readYamlFile, resolveFrom, schemaProblems, type ConfigProblem } from '../../core/config/load-config.ts'
import { scheduleProblems } from '../../core/config/schedule-problems.ts'

export const ColdpipeConfigSchema = Type.Object(
  {
    lake: Type.String({ minLength: 1 }),
    warehouse: WarehouseConfigSchema,
    sources: Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_]*$' }), SourceConfigSchema, { default: {} }),
    exports: Type.Array(ExportConfigSchema, { default: [] }),
    changes: Type.Optional(ChangesConfigSchema),
    /** Folder of read models, one SQL file each. */
    models: Type.Optional(Type.String({ minLength: 1 })),
    /** Folder of report definitions, one SQL file each. */
    reports: Type.Optional(Type.String({ minLength: 1 })),
    api: ApiConfigSchema,
    jobs: JobsConfigSchema,
    /** Personal data: masked before landing, erased on request (docs/personal-data.md). */
    pii: Type.Optional(PiiConfigSchema),
  },
  { additionalProperties: false },
)
export type ColdpipeConfig = Static<typeof ColdpipeConfigSchema>

/** Short forms users write (`warehouse: ./dir`) become the full objects the schema describes. */
function normalizeShorthands(raw: unknown): unknown {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return raw
  const doc = { ...(raw as Record<string, unknown>) }
  if (typeof doc.warehouse === 'string') doc.warehouse = { path: doc.warehouse }
  // typebox does not fill defaults inside Record values, so each source gets its defaults here.
  if (doc.sources && typeof doc.sources === 'object' && !Array.isArray(doc.sources)) {
    doc.sources = Object.fromEntries(
      Object.entries(doc.sources).map(([name, source]) => [name, Value.Default(SourceConfigSchema, structuredClone(source))]),
    )
  }
  doc.api ??= {}
  doc.jobs ??= {}
  return doc
}

function repeatedName(names: string[] | undefined): string | undefined {
  return names?.find((name, i) => names.indexOf(name) !== i)
}

/** Remembers where each name first came: the index of its earlier entry, or undefined the first time. */
function firstEntries(): (name: string, index: number) => number | undefined {
  const seen = new Map<string, number>()
  return (name, index) => {
    const first = seen.get(name)
    if (first === undefined) seen.set(name, index)
    return first
  }
}

/** Cross-field rules the schema cannot say: names that must refer to something, modes that need a cursor. */
function referenceProblems(config: ColdpipeConfig, env: NodeJS.ProcessEnv): ConfigProblem[] {
  const problems: ConfigProblem[] = []
  const exportOf = firstEntries()
  config.exports.forEach((exp, i) => {
    if (!config.sources[exp.source]) {
      problems.push({ path: `exports[${i}].source`, reason: `names source "${exp.source}", which is not under sources` })
    }
    // One job per source (`export:<source>`): a second entry would be a second job under the same id.
    const first = exportOf(exp.source, i)
    if (first !== undefined) problems.push({ path: `exports[${i}].source`, reason: `source "${exp.source}" already has exports[${first}]; merge its tables into one entry` })
    const tableAt = firstEntries()
    exp.tables?.forEach((table, j) => {
      if (table.mode === 'incremental') {
        if (!table.cursor) problems.push({ path: `exports[${i}].tables[${j}].cursor`, reason: 'is required for mode incremental' })
        if (!table.key) problems.push({ path: `exports[${i}].tables[${j}].key`, reason: 'is required for mode incremental' })
      }
      // The source refuses a column named twice in its SELECT, at export time, and the job retried that.
      for (const field of ['key', 'columns'] as const) {
        const repeated = repeatedName(table[field])
        if (repeated !== undefined) problems.push({ path: `exports[${i}].tables[${j}].${field}`, reason: `names ${repeated} more than once` })
      }
      // The export reads only `columns`: a key or cursor outside them failed the table at export time.
      if (table.columns) {
        const outside = [...(table.key ?? []), ...(table.cursor ? [table.cursor] : [])].filter((name) => !table.columns!.includes(name))
        if (outside.length) problems.push({ path: `exports[${i}].tables[${j}].columns`, reason: `leaves out ${outside.join(', ')}, which key or cursor names; add ${outside.length > 1 ? 'them' : 'it'}` })
      }
      // Two entries of one table would export it twice in a run, each expecting the watermark the other moves.
      const firstTable = tableAt(table.name, j)
      if (firstTable !== undefined) problems.push({ path: `exports[${i}].tables[${j}].name`, reason: `table ${table.name} is already exports[${i}].tables[${firstTable}]; one entry per table` })
    })
  })
  // One table takes rows from one path: exports and change events merge by different versions
  // (commit order vs source position), so a table fed by both would have no defined current state.
  const exported = new Map<string, string>()
  config.exports.forEach((exp, i) => exp.tables?.forEach((table, j) => exported.set(`${exp.source}.${table.name}`, `exports[${i}].tables[${j}]`)))
  const topicAt = firstEntries()
  config.changes?.topics.forEach((topic, k) => {
    // Ingest maps each topic to one entry: a second one silently replaced the first.
    const firstTopic = topicAt(topic.topic, k)
    if (firstTopic !== undefined) problems.push({ path: `changes.topics[${k}].topic`, reason: `topic ${topic.topic} is already changes.topics[${firstTopic}]; one entry per topic` })
    const target = `${topic.service}.${topic.table ?? 'events'}`
    const other = exported.get(target)
    if (other) {
      problems.push({
        path: `changes.topics[${k}].table`,
        reason: `lands in ${target}, which ${other} also exports; a table takes rows from exports or from change events, not both (map the topic to another table, e.g. ${topic.table ?? 'events'}_cdc)`,
      })
    }
  })
  // A request is matched to the first entry with its key: a second entry's name and rights would never apply.
  const keyAt = firstEntries()
  config.api.apiKeys.forEach((entry, k) => {
    const first = keyAt(entry.key, k)
    if (first !== undefined) problems.push({ path: `api.apiKeys[${k}].key`, reason: `is the key of api.apiKeys[${first}] (${config.api.apiKeys[first]!.name}); give each key its own secret` })
  })
  // Masking moved before landing: a warehouse-side rule would leave the lake's files in plaintext.
  if ((config.warehouse.pii?.length ?? 0) > 0) {
    problems.push({ path: 'warehouse.pii', reason: 'moved to pii.columns (masking now happens before data lands in the lake; docs/personal-data.md)' })
  }
  if (config.warehouse.piiKey !== undefined) {
    problems.push({ path: 'warehouse.piiKey', reason: 'moved: the masking key is read from the environment variable pii.keyEnv names (default COLDPIPE_PII_KEY), never from the config file' })
  }
  if (config.pii) {
    const keyed = new Map<string, { key: string[]; cursor?: string }>()
    config.exports.forEach((exp) => exp.tables?.forEach((t) => keyed.set(`${exp.source}.${t.name}`, { key: t.key ?? [], ...(t.cursor ? { cursor: t.cursor } : {}) })))
    config.changes?.topics.forEach((t) => keyed.set(`${t.service}.${t.table ?? (t.format === 'integration-event' ? 'events' : t.topic.split('.').pop()!)}`, { key: t.key ?? [] }))
    problems.push(...piiConfigProblems(config.pii, env, keyed))
  }
  return problems
}

/** A config document checked as far as it goes: the config when the schema holds, and every problem found. */
export interface ConfigInspection {
  config?: ColdpipeConfig
  problems: ConfigProblem[]
}

/**
 * Every problem of a parsed document at once: schema errors, schedules and time zones, references. Schedules are
 * checked even when the schema fails, so one run shows them all; references need a valid document.
 * Relative paths are resolved against `baseDir`.
 */
export function inspectConfig(raw: unknown, options: { baseDir: string; env?: NodeJS.ProcessEnv }): ConfigInspection {
  const interpolated = interpolateEnv(raw, options.env ?? process.env)
  const checked = schemaProblems(ColdpipeConfigSchema, normalizeShorthands(interpolated))
  const problems = [...checked.problems, ...scheduleProblems(checked.value)]
  if (checked.problems.length > 0) return { problems }
  const config = checked.value as ColdpipeConfig
  problems.push(...referenceProblems(config, options.env ?? process.env))
  config.lake = resolveFrom(options.baseDir, config.lake)
  config.warehouse.path = resolveFrom(options.baseDir, config.warehouse.path)
  if (config.models) config.models = resolveFrom(options.baseDir, config.models)
  if (config.reports) config.reports = resolveFrom(options.baseDir, config.reports)
  return { config, problems }
}

/** Validates an already-parsed document, throwing one CONFIG_INVALID that lists every problem with its path. */
export function parseConfig(raw: unknown, options: { origin: string; baseDir: string; env?: NodeJS.ProcessEnv }): ColdpipeConfig {
  const inspection = inspectConfig(raw, options)
  if (!inspection.config || inspection.problems.length > 0) throw configInvalid(options.origin, inspection.problems)
  // A validated config is what this process runs with: every landing into its lake applies its masking
  // (looked up by the lake, so no landing path can be wired without it).
  registerMasking(inspection.config.lake, MaskingRules.fromConfig(inspection.config.pii, options.env ?? process.env))
  return inspection.config
}

/** A config file checked as far as it goes (see inspectConfig); unreadable or unparsable files still throw. */
export function inspectConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): ConfigInspection {
  return inspectConfig(readYamlFile(file), { baseDir: configDir(file), env })
}

export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): ColdpipeConfig {
  return parseConfig(readYamlFile(file), { origin: file, baseDir: configDir(file), env })
}
