import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { ChangesConfigSchema } from '../../ingest/changes/changes-config.ts'
import { ExportConfigSchema, SourceConfigSchema } from '../../ingest/export/export-config.ts'
import { JobsConfigSchema } from '../../jobs/jobs-config.ts'
import { ApiConfigSchema } from '../../reports-api/api-config.ts'
import { WarehouseConfigSchema } from '../../warehouse/warehouse-config.ts'
import { ColdpipeError } from '../errors.ts'
import { configDir, interpolateEnv, readYamlFile, resolveFrom, validateConfig } from './load-config.ts'

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

/** Cross-field rules the schema cannot say: names that must refer to something, modes that need a cursor. */
function checkReferences(config: ColdpipeConfig, origin: string): void {
  const problems: { path: string; reason: string }[] = []
  config.exports.forEach((exp, i) => {
    if (!config.sources[exp.source]) {
      problems.push({ path: `exports[${i}].source`, reason: `names source "${exp.source}", which is not under sources` })
    }
    exp.tables?.forEach((table, j) => {
      if (table.mode === 'incremental') {
        if (!table.cursor) problems.push({ path: `exports[${i}].tables[${j}].cursor`, reason: 'is required for mode incremental' })
        if (!table.key) problems.push({ path: `exports[${i}].tables[${j}].key`, reason: 'is required for mode incremental' })
      }
    })
  })
  // One table takes rows from one path: exports and change events merge by different versions
  // (commit order vs source position), so a table fed by both would have no defined current state.
  const exported = new Map<string, string>()
  config.exports.forEach((exp, i) => exp.tables?.forEach((table, j) => exported.set(`${exp.source}.${table.name}`, `exports[${i}].tables[${j}]`)))
  config.changes?.topics.forEach((topic, k) => {
    const target = `${topic.service}.${topic.table ?? 'events'}`
    const other = exported.get(target)
    if (other) {
      problems.push({
        path: `changes.topics[${k}].table`,
        reason: `lands in ${target}, which ${other} also exports; a table takes rows from exports or from change events, not both (map the topic to another table, e.g. ${topic.table ?? 'events'}_cdc)`,
      })
    }
  })
  if (problems.length === 0) return
  const lines = problems.map((p) => `  ${p.path}: ${p.reason}`).join('\n')
  throw new ColdpipeError('CONFIG_INVALID', `${origin}: invalid configuration\n${lines}`, {
    context: { origin, problems, path: problems[0]?.path },
  })
}

/** Validates an already-parsed document; relative paths are resolved against `baseDir`. */
export function parseConfig(raw: unknown, options: { origin: string; baseDir: string; env?: NodeJS.ProcessEnv }): ColdpipeConfig {
  const interpolated = interpolateEnv(raw, options.env ?? process.env)
  const config = validateConfig(ColdpipeConfigSchema, normalizeShorthands(interpolated), options.origin)
  checkReferences(config, options.origin)
  config.lake = resolveFrom(options.baseDir, config.lake)
  config.warehouse.path = resolveFrom(options.baseDir, config.warehouse.path)
  if (config.models) config.models = resolveFrom(options.baseDir, config.models)
  if (config.reports) config.reports = resolveFrom(options.baseDir, config.reports)
  return config
}

export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): ColdpipeConfig {
  return parseConfig(readYamlFile(file), { origin: file, baseDir: configDir(file), env })
}
