import type { ColumnInfo } from '../../core/duckdb/index.ts'

/** DuckDB types whose values are right-aligned, as numbers are in duckdb's own table output. */
const numericType = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL)\b/

/** Narrowest a column is squeezed to (or its natural width, if smaller) before columns are dropped. */
const minColumnWidth = 6

export interface TableInput {
  columns: ColumnInfo[]
  /** Rows as arrays in column order, JSON-safe values (as DuckDB's streaming result gives them). */
  rows: unknown[][]
  /** Terminal width the table must fit in. */
  width: number
}

/** One cell as text: NULL spelled out, nested values as JSON, control characters escaped so rows stay one line. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return 'NULL'
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value)
  return text.replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t')
}

export const isNumericColumn = (column: ColumnInfo): boolean => numericType.test(column.type)

const length = (text: string): number => [...text].length

function fit(text: string, width: number, right: boolean): string {
  const chars = [...text]
  if (chars.length > width) return `${chars.slice(0, width - 1).join('')}…`
  const pad = ' '.repeat(width - chars.length)
  return right ? pad + text : text + pad
}

/**
 * Column widths that fit `width`: the widest columns give way first (their cells end in …); if even the
 * narrowest layout is too wide, columns are dropped from the right. Returns how many columns are shown.
 */
export function layoutColumns(natural: number[], width: number): { widths: number[]; shown: number } {
  const total = (ws: number[]) => ws.reduce((sum, w) => sum + w + 3, 1)
  let shown = natural.length
  const floor = natural.map((w) => Math.min(w, minColumnWidth))
  while (shown > 1 && total(floor.slice(0, shown)) > width) shown--
  const widths = natural.slice(0, shown)
  let excess = total(widths) - width
  while (excess > 0) {
    let widest = -1
    for (let i = 0; i < widths.length; i++) if (widths[i]! > floor[i]! && (widest < 0 || widths[i]! > widths[widest]!)) widest = i
    if (widest < 0) break
    widths[widest]!--
    excess--
  }
  return { widths, shown }
}

/**
 * A box-drawn table like duckdb's: a line under the header, numbers right-aligned, NULL shown as NULL,
 * fitted to the terminal width. Returns the lines (no footer) and the names of columns left out.
 */
export function renderTable(input: TableInput): { text: string; hidden: string[] } {
  const { columns, rows } = input
  const cells = rows.map((row) => columns.map((_, i) => cellText(row[i])))
  // A loop, not Math.max(...cells): spreading a million rows into arguments overflows the stack.
  const natural = columns.map((column, i) => cells.reduce((widest, row) => Math.max(widest, length(row[i]!)), Math.max(1, length(column.name))))
  const { widths, shown } = layoutColumns(natural, input.width)
  const right = columns.map(isNumericColumn)
  const rule = (left: string, mid: string, end: string) => `${left}${widths.map((w) => '─'.repeat(w + 2)).join(mid)}${end}\n`
  const line = (values: string[], align: (i: number) => boolean) => `│ ${widths.map((w, i) => fit(values[i]!, w, align(i))).join(' │ ')} │\n`
  let text = rule('┌', '┬', '┐')
  text += line(columns.map((c) => c.name), () => false)
  text += rule('├', '┼', '┤')
  for (const row of cells) text += line(row, (i) => right[i]!)
  text += rule('└', '┴', '┘')
  return { text, hidden: columns.slice(shown).map((c) => c.name) }
}
