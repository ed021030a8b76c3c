import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { parseDocument } from 'yaml'
import { formatPath } from '../core/config/index.ts'
import { ColdpipeError } from '../core/errors.ts'

/** Query parameters the API itself reads; a report parameter may not take one of these names. */
export const reservedParams = ['format', 'limit', 'offset', 'sort', 'asOf', 'acceptStale', 'stream'] as const

export const paramTypes = ['string', 'integer', 'number', 'boolean', 'date', 'timestamp'] as const
export type ParamType = (typeof paramTypes)[number]

const ScalarDefault = Type.Union([Type.String(), Type.Number(), Type.Boolean()])

export const ParamSpecSchema = Type.Object(
  {
    type: Type.Union(paramTypes.map((t) => Type.Literal(t))),
    description: Type.Optional(Type.String()),
    default: Type.Optional(ScalarDefault),
    /** Default: required when the parameter has no default, optional when it has one. */
    required: Type.Optional(Type.Boolean()),
    enum: Type.Optional(Type.Array(ScalarDefault, { minItems: 1 })),
    minimum: Type.Optional(Type.Union([Type.Number(), Type.String()])),
    maximum: Type.Optional(Type.Union([Type.Number(), Type.String()])),
  },
  { additionalProperties: false },
)
export type ParamSpec = Static<typeof ParamSpecSchema>

export const ReportHeaderSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z][a-z0-9_]*$' }),
    title: Type.Optional(Type.String()),
    description: Type.Optional(Type.String()),
    params: Type.Record(Type.String({ pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$' }), ParamSpecSchema, { default: {} }),
    /** Declared output columns: the only ones `sort` accepts. */
    columns: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    chart: Type.Optional(
      Type.Object(
        {
          type: Type.Union([Type.Literal('bar'), Type.Literal('line'), Type.Literal('stacked-bar')]),
          x: Type.String({ minLength: 1 }),
          /** One column, or several (one series each). */
          y: Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })]),
          series: Type.Optional(Type.String({ minLength: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
    maxStalenessSeconds: Type.Optional(Type.Integer({ minimum: 0 })),
    /** Sources (`service` or `service.table`) the report reads; inferred from the SQL when omitted. */
    sources: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  },
  { additionalProperties: false },
)
export type ReportHeader = Static<typeof ReportHeaderSchema>

export interface ResolvedParam extends ParamSpec {
  name: string
  required: boolean
}

export interface ReportDefinition {
  name: string
  title: string
  description?: string
  params: ResolvedParam[]
  columns?: string[]
  chart?: ReportHeader['chart']
  maxStalenessSeconds?: number
  sources?: string[]
  /** The SQL body, header removed, trailing semicolon removed. */
  sql: string
  file: string
  /** Changes whenever the file changes; part of cache keys and ETags. */
  version: string
}

function invalid(file: string, field: string, reason: string): ColdpipeError {
  return new ColdpipeError('REPORT_DEFINITION_INVALID', `${file}: ${field}: ${reason}`, { context: { file, field } })
}

const headerPattern = /^\s*\/\*---\r?\n([\s\S]*?)\r?\n\s*---\*\/\s*/

/** `$name` uses in SQL, skipping string literals, quoted identifiers and comments. */
export function sqlParamNames(sql: string): Set<string> {
  const stripped = sql
    .replace(/'(?:[^']|'')*'/g, "''")
    .replace(/"(?:[^"]|"")*"/g, '""')
    .replace(/--[^\n]*/g, '')
    .replace(/\/\*[\s\S]*?\*\//g, '')
  return new Set([...stripped.matchAll(/\$([a-zA-Z_][a-zA-Z0-9_]*)/g)].map((m) => m[1]!))
}

function checkBound(file: string, name: string, spec: ParamSpec, key: 'minimum' | 'maximum'): void {
  const value = spec[key]
  if (value === undefined) return
  const numeric = spec.type === 'integer' || spec.type === 'number'
  if (numeric && typeof value !== 'number') throw invalid(file, `params.${name}.${key}`, `must be a number for type ${spec.type}`)
  if ((spec.type === 'date' || spec.type === 'timestamp') && (typeof value !== 'string' || Number.isNaN(Date.parse(value)))) {
    throw invalid(file, `params.${name}.${key}`, `must be an ISO ${spec.type} for type ${spec.type}`)
  }
  if (!numeric && spec.type !== 'date' && spec.type !== 'timestamp') {
    throw invalid(file, `params.${name}.${key}`, `is only allowed for integer, number, date and timestamp parameters`)
  }
}

/** Parses one report file's text; throws REPORT_DEFINITION_INVALID naming the file and the field. */
export function parseReportDefinition(text: string, file: string, version: string): ReportDefinition {
  const match = headerPattern.exec(text)
  if (!match) throw invalid(file, '(header)', 'must start with a /*--- … ---*/ block holding the YAML header')
  const doc = parseDocument(match[1]!)
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!
    const line = first.linePos?.[0]
    throw invalid(file, `(header${line ? ` line ${line.line + 1}` : ''})`, `not valid YAML: ${first.message.split('\n')[0]}`)
  }
  const raw = Value.Default(ReportHeaderSchema, structuredClone(doc.toJS() ?? {}))
  const errors = [...Value.Errors(ReportHeaderSchema, raw)]
  if (errors.length > 0) {
    const error = errors.at(-1)!
    const reason = error.message === 'Unexpected property' ? 'is not a known field' : error.value === undefined ? 'is required' : `${error.message} (got ${JSON.stringify(error.value)})`
    throw invalid(file, formatPath(error.path), reason)
  }
  const header = raw as ReportHeader
  const sql = text.slice(match[0].length).trim().replace(/;\s*$/, '')
  if (!sql) throw invalid(file, '(sql)', 'the report has no SQL after its header')
  const used = sqlParamNames(sql)
  const params: ResolvedParam[] = []
  for (const [name, spec] of Object.entries(header.params)) {
    if ((reservedParams as readonly string[]).includes(name)) {
      throw invalid(file, `params.${name}`, `is reserved by the API (${reservedParams.join(', ')}); pick another name`)
    }
    if (!used.has(name)) throw invalid(file, `params.${name}`, `is declared but the SQL never uses $${name}`)
    checkBound(file, name, spec, 'minimum')
    checkBound(file, name, spec, 'maximum')
    const required = spec.required ?? spec.default === undefined
    params.push({ ...spec, name, required })
  }
  for (const name of used) {
    if (!(name in header.params)) throw invalid(file, `params.${name}`, `the SQL uses $${name} but the header does not declare it`)
  }
  const definition: ReportDefinition = {
    name: header.name,
    title: header.title ?? header.name,
    description: header.description,
    params,
    columns: header.columns,
    chart: header.chart,
    maxStalenessSeconds: header.maxStalenessSeconds,
    sources: header.sources,
    sql,
    file,
    version,
  }
  if (header.chart && header.columns) {
    for (const key of ['x', 'y', 'series'] as const) {
      for (const column of [header.chart[key] ?? []].flat()) {
        if (!header.columns.includes(column)) throw invalid(file, `chart.${key}`, `names column "${column}", which is not under columns`)
      }
    }
  }
  return definition
}
