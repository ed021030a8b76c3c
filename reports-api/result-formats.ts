import { csvLines } from '../core/csv.ts'
import { ColdpipeError } from '../core/errors.ts'

export const formats = ['json', 'csv', 'ndjson', 'parquet'] as const
export type Format = (typeof formats)[number]

/** Formats a whole result can be streamed in; JSON answers are pages of at most api.maxRows. */
export const streamFormats = ['csv', 'ndjson', 'parquet'] as const
export type StreamFormat = (typeof streamFormats)[number]

export const contentTypes: Record<Format, string> = {
  json: 'application/json; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  ndjson: 'application/x-ndjson; charset=utf-8',
  parquet: 'application/vnd.apache.parquet',
}

const acceptAliases: Record<string, Format> = {
  'application/json': 'json',
  'text/csv': 'csv',
  'application/csv': 'csv',
  'application/x-ndjson': 'ndjson',
  'application/ndjson': 'ndjson',
  'application/jsonl': 'ndjson',
  'application/vnd.apache.parquet': 'parquet',
  'application/x-parquet': 'parquet',
  'application/parquet': 'parquet',
}

/** `?format=` wins; else the first acceptable type of the Accept header (by q); JSON when anything goes. */
export function negotiateFormat(formatParam: unknown, accept: string | undefined): Format {
  if (formatParam !== undefined) {
    const wanted = String(formatParam).toLowerCase()
    if ((formats as readonly string[]).includes(wanted)) return wanted as Format
    throw new ColdpipeError('REPORT_FORMAT_UNSUPPORTED', `format "${String(formatParam)}" is not one of ${formats.join(', ')}`, {
      context: { param: 'format', got: formatParam, expected: formats },
    })
  }
  if (!accept) return 'json'
  const ranges = accept
    .split(',')
    .map((part, index) => {
      const [type = '', ...rest] = part.trim().split(';')
      const q = rest.map((p) => p.trim()).find((p) => p.startsWith('q='))
      return { type: type.trim().toLowerCase(), q: q ? Number(q.slice(2)) : 1, index }
    })
    .filter((range) => range.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index)
  for (const range of ranges) {
    if (acceptAliases[range.type]) return acceptAliases[range.type]!
    if (range.type === '*/*' || range.type === 'application/*' || range.type === 'text/*') return range.type === 'text/*' ? 'csv' : 'json'
  }
  throw new ColdpipeError('REPORT_FORMAT_UNSUPPORTED', `none of the types in Accept (${accept}) is available; use ${Object.keys(acceptAliases).join(', ')}`, {
    context: { accept },
  })
}

/** RFC 4180 CSV with a header line; nested values as JSON text. */
export function encodeCsv(columns: string[], rows: Record<string, unknown>[]): Buffer {
  return Buffer.from(csvLines([columns, ...rows.map((row) => columns.map((column) => row[column]))]))
}

/** CSV lines (no header) for rows given as arrays in column order; the streaming path encodes chunk by chunk. */
export function encodeCsvRows(rows: unknown[][]): string {
  return csvLines(rows)
}

/** NDJSON lines for rows given as arrays in column order. */
export function encodeNdjsonRows(columns: string[], rows: unknown[][]): string {
  let text = ''
  for (const row of rows) {
    const object: Record<string, unknown> = {}
    for (let i = 0; i < columns.length; i++) object[columns[i]!] = row[i]
    text += `${JSON.stringify(object)}\n`
  }
  return text
}

export function encodeNdjson(rows: Record<string, unknown>[]): Buffer {
  return Buffer.from(rows.map((row) => `${JSON.stringify(row)}\n`).join(''))
}
