import { Type, type Static } from '@sinclair/typebox'
import type { ConfigProblem } from '../../core/config/load-config.ts'

/** Masking and erasure of personal data before it lands (docs/personal-data.md). */
export const piiDefaults = {
  /** The environment variable holding the masking key; the key itself never sits in a config file. */
  keyEnv: 'COLDPIPE_PII_KEY',
  /** GDPR art. 17: without undue delay, at the latest within a month. */
  erasureDeadlineDays: 30,
  /** `coldpipe status` warns this many days before an erasure's deadline. */
  erasureWarnDays: 7,
  /** How often `coldpipe start` looks at the erasure list to alert erasures that became due or overdue. */
  erasureCheckIntervalMs: 60_000,
} as const

/** Shortest key accepted: an HMAC key below 16 bytes is guessable. */
export const piiKeyMinLength = 16

const columnPattern = '^[^.]+\\.[^.]+\\.[^.]+$'

export const MaskActionSchema = Type.Union([Type.Literal('hash'), Type.Literal('drop'), Type.Literal('null')])
export type MaskAction = Static<typeof MaskActionSchema>

export const PiiColumnRuleSchema = Type.Object(
  {
    /** `service.table.column`, as the lake names them (a change topic's service and table). */
    column: Type.String({ pattern: columnPattern }),
    /** hash: HMAC-SHA256 hex of the value's text form; drop: the column is not landed; null: landed as NULL. */
    action: MaskActionSchema,
  },
  { additionalProperties: false },
)
export type PiiColumnRule = Static<typeof PiiColumnRuleSchema>

export const ErasureDependentSchema = Type.Object(
  {
    /** `service.table.column` of the dependent rows, e.g. `ordering.orders.buyer_id`. */
    column: Type.String({ pattern: columnPattern }),
    /** The column of an erased row it refers to, e.g. `ordering.buyers.id`. */
    references: Type.String({ pattern: columnPattern }),
  },
  { additionalProperties: false },
)

export const ErasureSubjectSchema = Type.Object(
  {
    /** Columns that hold the subject's identifier itself, across services (`identity.users.id`, `ordering.buyers.user_id`). */
    keys: Type.Array(Type.String({ pattern: columnPattern }), { minItems: 1 }),
    /** Rows erased because they refer to an erased row (a buyer's orders, an order's lines), followed to a fixed point. */
    // Optional rather than defaulted: typebox fills no defaults inside Record values.
    dependents: Type.Optional(Type.Array(ErasureDependentSchema)),
  },
  { additionalProperties: false },
)
export type ErasureSubject = Static<typeof ErasureSubjectSchema>

export const PiiConfigSchema = Type.Object(
  {
    keyEnv: Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$', default: piiDefaults.keyEnv }),
    columns: Type.Array(PiiColumnRuleSchema, { default: [] }),
    subjects: Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_]*$' }), ErasureSubjectSchema, { default: {} }),
    erasureDeadlineDays: Type.Integer({ minimum: 1, default: piiDefaults.erasureDeadlineDays }),
    erasureWarnDays: Type.Integer({ minimum: 0, default: piiDefaults.erasureWarnDays }),
    // Optional rather than defaulted, so configs built in code need not name it; absent: piiDefaults'.
    erasureCheckIntervalMs: Type.Optional(Type.Integer({ minimum: 100 })),
  },
  { additionalProperties: false },
)
export type PiiConfig = Static<typeof PiiConfigSchema>

/** What the config says when it has no `pii` section. */
export const emptyPiiConfig: PiiConfig = { keyEnv: piiDefaults.keyEnv, columns: [], subjects: {}, erasureDeadlineDays: piiDefaults.erasureDeadlineDays, erasureWarnDays: piiDefaults.erasureWarnDays }

/** Whether this config needs the key at all (anything hashed, or any erasure subject: the list keeps keyed hashes). */
export function needsKey(config: PiiConfig): boolean {
  return config.columns.some((c) => c.action === 'hash') || Object.keys(config.subjects).length > 0
}

/**
 * Rules the schema cannot say: one rule per column, the key present in the environment when needed, and
 * subject columns that stay matchable (a dropped or nulled identifier could never be found again).
 * `tableColumns`: per `service.table`, the export's key and cursor columns, which cannot be dropped or nulled.
 */
export function piiConfigProblems(
  config: PiiConfig,
  env: NodeJS.ProcessEnv,
  exported: Map<string, { key: string[]; cursor?: string }> = new Map(),
): ConfigProblem[] {
  const problems: ConfigProblem[] = []
  const actions = new Map<string, PiiColumnRule['action']>()
  config.columns.forEach((rule, i) => {
    if (actions.has(rule.column)) problems.push({ path: `pii.columns[${i}].column`, reason: `${rule.column} has a rule already; one action per column` })
    actions.set(rule.column, rule.action)
    const dot = rule.column.lastIndexOf('.')
    const table = exported.get(rule.column.slice(0, dot))
    const name = rule.column.slice(dot + 1)
    if (table?.cursor === name) problems.push({ path: `pii.columns[${i}].action`, reason: `${rule.column} is the export's cursor; a masked cursor cannot order rows (export another column as cursor)` })
    if (table?.key.includes(name) && rule.action !== 'hash') problems.push({ path: `pii.columns[${i}].action`, reason: `${rule.column} is part of the export's key; only hash keeps rows apart (got ${rule.action})` })
  })
  // An unset key is not a config problem: commands that never land or erase (sql, status) run without it,
  // and whatever needs it fails with PII_KEY_MISSING naming the variable before anything lands.
  const key = env[config.keyEnv]
  if (needsKey(config) && key !== undefined && key !== '' && key.length < piiKeyMinLength) {
    problems.push({ path: 'pii.keyEnv', reason: `environment variable ${config.keyEnv} holds ${key.length} characters; the masking key needs ${piiKeyMinLength}+` })
  }
  for (const [name, subject] of Object.entries(config.subjects)) {
    const used = [...subject.keys.map((column, i) => ({ column, path: `pii.subjects.${name}.keys[${i}]` })), ...(subject.dependents ?? []).flatMap((d, i) => [
      { column: d.column, path: `pii.subjects.${name}.dependents[${i}].column` },
      { column: d.references, path: `pii.subjects.${name}.dependents[${i}].references` },
    ])]
    for (const { column, path } of used) {
      const action = actions.get(column)
      if (action === 'drop' || action === 'null') problems.push({ path, reason: `${column} is masked with ${action} in pii.columns, so erasure could not find rows by it (hash it instead)` })
    }
  }
  return problems
}
