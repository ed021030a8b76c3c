import type { PassThrough } from 'node:stream'
import { ColdpipeError } from '../core/errors.ts'
import type { ReportDefinition } from './report-definition.ts'
import type { Format } from './result-formats.ts'

/** What a GET /reports/:name asks for, as the service gets it from the route. */
export interface ReportRequest {
  name: string
  query: Record<string, unknown>
  accept?: string
  ifNoneMatch?: string
  acceptStaleHeader?: string
  /**
   * The raw query string `query` was parsed from, when the caller has it: requests that repeat it (the same
   * report asked the same way, what a cache hit usually is) reuse the parameters checked the first time.
   */
  rawQuery?: string
}

export interface ReportReply {
  status: 200 | 304
  headers: Record<string, string>
  body?: Buffer | string
}

/** A streamed download: headers to send, the body, and the row count once the body has ended. */
export interface StreamReply {
  headers: Record<string, string>
  body: PassThrough
  /** Resolves with the rows written after the last byte was handed to `body` (then `body` ends); rejects if the stream failed. */
  rows: Promise<number>
}

export interface Paging {
  /** Absent only for streamed downloads: the whole result. */
  limit: number
  offset: number
  sort?: { column: string; descending: boolean }
}

/** REPORT_PARAM_INVALID for a reserved query parameter (limit, offset, sort, asOf, stream...). */
export function invalidReserved(param: string, expected: string, got: unknown): ColdpipeError {
  return new ColdpipeError('REPORT_PARAM_INVALID', `query parameter "${param}" must be ${expected}; got ${JSON.stringify(got)}`, {
    context: { param, expected, got },
  })
}

export function single(query: Record<string, unknown>, name: string): string | undefined {
  const value = query[name]
  if (value === undefined) return undefined
  if (Array.isArray(value)) throw invalidReserved(name, 'given once', value)
  return String(value)
}

export function parseNonNegative(query: Record<string, unknown>, name: string, max: number): number | undefined {
  const raw = single(query, name)
  if (raw === undefined) return undefined
  if (!/^\d+$/.test(raw) || Number(raw) > max) throw invalidReserved(name, `an integer between 0 and ${max}`, raw)
  return Number(raw)
}

export function parseBoolean(value: string | undefined): boolean {
  return value !== undefined && ['true', '1', 'yes'].includes(value.toLowerCase())
}

/** `?stream=true`: the whole result as CSV, NDJSON or Parquet, not a page. */
export function wantsStream(query: Record<string, unknown>): boolean {
  return parseBoolean(single(query, 'stream'))
}

const defaultJsonPageRows = 1000

/** limit, offset and sort of a request: validated integers, and a sort only on a declared column. */
export function parsePaging(definition: ReportDefinition, query: Record<string, unknown>, format: Format, maxRows: number): Paging {
  const limit = parseNonNegative(query, 'limit', maxRows) ?? (format === 'json' ? Math.min(defaultJsonPageRows, maxRows) : maxRows)
  const offset = parseNonNegative(query, 'offset', Number.MAX_SAFE_INTEGER) ?? 0
  const sortRaw = single(query, 'sort')
  let sort: Paging['sort']
  if (sortRaw !== undefined) {
    const descending = sortRaw.startsWith('-')
    const column = descending ? sortRaw.slice(1) : sortRaw.replace(/^\+/, '')
    const allowed = definition.columns ?? []
    if (!allowed.includes(column)) {
      throw invalidReserved('sort', allowed.length ? `one of ${allowed.join(', ')} (prefix - for descending)` : 'absent: this report declares no sortable columns', sortRaw)
    }
    sort = { column, descending }
  }
  return { limit, offset, sort }
}
