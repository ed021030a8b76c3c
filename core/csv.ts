/**
 * The one CSV encoder (RFC 4180): a field is quoted when it holds a quote, comma, CR or LF, or has leading or
 * trailing spaces that a reader would trim; NULL is an empty field; nested values are their JSON text. Lines end
 * with CRLF as RFC 4180 says, or LF where a terminal or a Unix tool reads them.
 */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return ''
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value)
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replace(/"/g, '""')}"` : text
}

export type CsvLineEnd = '\r\n' | '\n'

/** One line per row (each an array of values in column order). */
export function csvLines(rows: readonly (readonly unknown[])[], lineEnd: CsvLineEnd = '\r\n'): string {
  let text = ''
  for (const row of rows) text += `${row.map(csvField).join(',')}${lineEnd}`
  return text
}
