import type { SqlParam } from '../core/duckdb/index.ts'
import { ColdpipeError } from '../core/errors.ts'
import { reservedParams, type ReportDefinition, type ResolvedParam } from './report-definition.ts'

export type ParamValue = string | number | boolean | null

export interface BoundParams {
  /** What DuckDB gets, every declared parameter present (absent optionals as NULL). */
  sql: Record<string, SqlParam>
  /** The same values as JSON, in declaration order: echoed in responses and part of cache keys. */
  normalized: Record<string, ParamValue>
}

const expectations: Record<ResolvedParam['type'], string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  date: 'a date YYYY-MM-DD',
  timestamp: 'an ISO 8601 timestamp',
}

function describeExpected(param: ResolvedParam): string {
  let text = expectations[param.type]
  if (param.enum) text += ` in [${param.enum.join(', ')}]`
  if (param.minimum !== undefined && param.maximum !== undefined) text += ` between ${param.minimum} and ${param.maximum}`
  else if (param.minimum !== undefined) text += ` ≥ ${param.minimum}`
  else if (param.maximum !== undefined) text += ` ≤ ${param.maximum}`
  return text
}

function bad(report: string, param: ResolvedParam, got: unknown, reason?: string): ColdpipeError {
  const expected = describeExpected(param)
  return new ColdpipeError(
    'REPORT_PARAM_INVALID',
    `parameter "${param.name}" of report ${report} must be ${expected}${reason ? ` (${reason})` : ''}; got ${JSON.stringify(got)}`,
    { context: { report, param: param.name, expected, got } },
  )
}

function inRange(value: number, param: ResolvedParam, min: unknown, max: unknown): boolean {
  if (typeof min === 'number' && value < min) return false
  if (typeof max === 'number' && value > max) return false
  void param
  return true
}

/** Turns one raw query-string value into the typed value, or throws REPORT_PARAM_INVALID naming the parameter. */
export function coerceParam(report: string, param: ResolvedParam, raw: string): { sql: SqlParam; json: ParamValue } {
  const text = raw.trim()
  let sql: SqlParam
  let json: ParamValue
  switch (param.type) {
    case 'string':
      sql = json = raw
      break
    case 'integer': {
      if (!/^[-+]?\d+$/.test(text)) throw bad(report, param, raw)
      const value = Number(text)
      if (!Number.isSafeInteger(value)) throw bad(report, param, raw, 'out of the safe integer range')
      if (!inRange(value, param, param.minimum, param.maximum)) throw bad(report, param, raw)
      // A JS integer binds as INTEGER (BIGINT past 2^31), which casts implicitly wherever BIGINT is expected;
      // a bigint would bind as HUGEINT, which e.g. range() refuses.
      sql = json = value
      break
    }
    case 'number': {
      const value = Number(text)
      if (text === '' || !Number.isFinite(value)) throw bad(report, param, raw)
      if (!inRange(value, param, param.minimum, param.maximum)) throw bad(report, param, raw)
      sql = json = value
      break
    }
    case 'boolean': {
      const lowered = text.toLowerCase()
      if (lowered === 'true' || lowered === '1') sql = json = true
      else if (lowered === 'false' || lowered === '0') sql = json = false
      else throw bad(report, param, raw)
      break
    }
    case 'date': {
      const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text)
      const time = match ? Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) : NaN
      if (!match || new Date(time).toISOString().slice(0, 10) !== text) throw bad(report, param, raw)
      if (!inRange(time, param, toTime(param.minimum), toTime(param.maximum))) throw bad(report, param, raw)
      sql = json = text
      break
    }
    case 'timestamp': {
      const time = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text) ? Date.parse(text) : NaN
      if (Number.isNaN(time)) throw bad(report, param, raw)
      if (!inRange(time, param, toTime(param.minimum), toTime(param.maximum))) throw bad(report, param, raw)
      sql = json = new Date(time).toISOString()
      break
    }
  }
  if (param.enum && !param.enum.some((choice) => String(choice) === String(json))) throw bad(report, param, raw)
  return { sql, json }
}

function toTime(value: unknown): number | undefined {
  return typeof value === 'string' ? Date.parse(value) : undefined
}

/**
 * Validates a request's query against the report's parameters. Reserved names belong to the API; any other
 * unknown name is refused, so a typo never silently runs the report without its filter.
 */
export function bindParams(definition: ReportDefinition, query: Record<string, unknown>): BoundParams {
  const known = new Map(definition.params.map((p) => [p.name, p]))
  for (const name of Object.keys(query)) {
    if (!known.has(name) && !(reservedParams as readonly string[]).includes(name)) {
      throw new ColdpipeError(
        'REPORT_PARAM_UNKNOWN',
        `report ${definition.name} has no parameter "${name}" (parameters: ${[...known.keys()].join(', ') || 'none'}; reserved: ${reservedParams.join(', ')})`,
        { context: { report: definition.name, param: name } },
      )
    }
  }
  const sql: Record<string, SqlParam> = {}
  const normalized: Record<string, ParamValue> = {}
  for (const param of definition.params) {
    let raw = query[param.name]
    if (Array.isArray(raw)) {
      throw new ColdpipeError('REPORT_PARAM_INVALID', `parameter "${param.name}" of report ${definition.name} was given ${raw.length} times; give it once`, {
        context: { report: definition.name, param: param.name, got: raw },
      })
    }
    if (raw === '' && param.type !== 'string') raw = undefined
    if (raw === undefined) {
      if (param.default !== undefined) raw = String(param.default)
      else if (param.required) {
        throw new ColdpipeError('REPORT_PARAM_MISSING', `report ${definition.name} needs parameter "${param.name}" (${describeExpected(param)})`, {
          context: { report: definition.name, param: param.name, expected: describeExpected(param) },
        })
      } else {
        sql[param.name] = null
        normalized[param.name] = null
        continue
      }
    }
    const value = coerceParam(definition.name, param, String(raw))
    sql[param.name] = value.sql
    normalized[param.name] = value.json
  }
  checkRanges(definition, normalized)
  return { sql, normalized }
}

/** A lower and an upper bound that must not cross, e.g. `from`/`to` or `ship_start`/`ship_end`. */
export interface ParamRange {
  from: string
  to: string
}

const rangeWords: [string, string][] = [
  ['from', 'to'],
  ['start', 'end'],
  ['since', 'until'],
  ['min', 'max'],
]

/**
 * Pairs of parameters of the same ordered type (date, timestamp, integer, number) named as a range: `from`/`to`,
 * `start`/`end`, `since`/`until`, `min`/`max`, alone or as a `_`-separated prefix or suffix (`ship_from`/`ship_to`,
 * `from_day`/`to_day`). Named by convention so existing report files get the check without a new header field.
 */
export function paramRanges(definition: Pick<ReportDefinition, 'params'>): ParamRange[] {
  const byName = new Map(definition.params.map((p) => [p.name, p]))
  const ordered = new Set(['date', 'timestamp', 'integer', 'number'])
  const ranges: ParamRange[] = []
  for (const param of definition.params) {
    if (!ordered.has(param.type)) continue
    for (const [low, high] of rangeWords) {
      const partner = param.name === low ? high : param.name.startsWith(`${low}_`) ? `${high}_${param.name.slice(low.length + 1)}` : param.name.endsWith(`_${low}`) ? `${param.name.slice(0, -low.length)}${high}` : undefined
      const other = partner === undefined ? undefined : byName.get(partner)
      if (other && other.type === param.type) ranges.push({ from: param.name, to: other.name })
    }
  }
  return ranges
}

/** Ranges per report version (definitions are replaced, never changed): worked out once, not on every request. */
const rangesOf = new WeakMap<ReportDefinition, ParamRange[]>()

function checkRanges(definition: ReportDefinition, values: Record<string, ParamValue>): void {
  let ranges = rangesOf.get(definition)
  if (!ranges) rangesOf.set(definition, (ranges = paramRanges(definition)))
  for (const range of ranges) {
    const low = values[range.from]
    const high = values[range.to]
    if (low === null || high === null || low === undefined || high === undefined) continue
    // Dates compare as text (YYYY-MM-DD); timestamps are normalized to ISO UTC above, so text order is time order.
    if (typeof low === 'number' && typeof high === 'number' ? low <= high : String(low) <= String(high)) continue
    throw new ColdpipeError(
      'REPORT_PARAM_INVALID',
      `parameter "${range.to}" of report ${definition.name} must not be before "${range.from}" (${range.from}=${JSON.stringify(low)}, ${range.to}=${JSON.stringify(high)}): the range is reversed`,
      { context: { report: definition.name, param: range.to, expected: `≥ ${range.from} (${String(low)})`, got: high, range } },
    )
  }
}

/** A JSON schema per parameter, for the catalog, the OpenAPI document and the web form. */
export function paramJsonSchema(param: ResolvedParam): Record<string, unknown> {
  const schema: Record<string, unknown> = {}
  switch (param.type) {
    case 'date':
      Object.assign(schema, { type: 'string', format: 'date' })
      break
    case 'timestamp':
      Object.assign(schema, { type: 'string', format: 'date-time' })
      break
    default:
      schema.type = param.type
  }
  for (const key of ['description', 'default', 'enum', 'minimum', 'maximum'] as const) {
    if (param[key] !== undefined) schema[key] = param[key]
  }
  if (param.type === 'date' || param.type === 'timestamp') {
    if (param.minimum !== undefined) schema.formatMinimum = param.minimum
    if (param.maximum !== undefined) schema.formatMaximum = param.maximum
    delete schema.minimum
    delete schema.maximum
  }
  return schema
}
