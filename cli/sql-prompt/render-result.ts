import { csvLines } from '../../core/csv.ts'
import type { RowStream } from '../../core/duckdb/index.ts'
import { cellText, renderTable } from './render-table.ts'

export const outputModes = ['table', 'csv', 'json', 'line'] as const
export type OutputMode = (typeof outputModes)[number]

export interface RenderOptions {
  mode: OutputMode
  /** Rows shown in table and line mode before "N more rows" (0: all). csv and json always print every row. */
  maxRows: number
  /** Width a table must fit in (Infinity on a pipe). */
  width: number
}

export type Write = (text: string) => Promise<void> | void


/** Wraps a note at word boundaries so it too fits the terminal. */
function wrap(text: string, width: number): string {
  if (!Number.isFinite(width)) return `${text}\n`
  let out = ''
  let line = ''
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      out += `${line}\n`
      line = word
    } else line = line === '' ? word : `${line} ${word}`
  }
  return `${out}${line}\n`
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`

/**
 * Writes one statement's result as it streams in. csv and json are written chunk by chunk (any size, constant
 * memory); table and line mode keep only the first `maxRows` rows and count the rest, so a huge result is never
 * held just to show 40 rows.
 */
export async function renderResult(stream: RowStream, options: RenderOptions, write: Write): Promise<void> {
  const names = stream.columns.map((column) => column.name)
  if (options.mode === 'csv') {
    // LF, not RFC 4180's CRLF: a terminal or a Unix tool reads this.
    await write(csvLines([names], '\n'))
    for await (const chunk of stream.chunks) await write(csvLines(chunk, '\n'))
    return
  }
  if (options.mode === 'json') {
    let first = true
    for await (const chunk of stream.chunks) {
      let text = ''
      for (const row of chunk) {
        const object: Record<string, unknown> = {}
        for (let i = 0; i < names.length; i++) object[names[i]!] = row[i]
        text += `${first ? '[\n' : ',\n'}${JSON.stringify(object)}`
        first = false
      }
      await write(text)
    }
    await write(first ? '[]\n' : '\n]\n')
    return
  }
  const cap = options.maxRows > 0 ? options.maxRows : Infinity
  const rows: unknown[][] = []
  let total = 0
  for await (const chunk of stream.chunks) {
    total += chunk.length
    for (let i = 0; i < chunk.length && rows.length < cap; i++) rows.push(chunk[i]!)
  }
  const more = total - rows.length
  if (options.mode === 'line') {
    const nameWidth = Math.max(0, ...names.map((name) => [...name].length))
    const blocks = rows.map((row) => names.map((name, i) => `${name.padStart(nameWidth)} = ${cellText(row[i])}\n`).join(''))
    await write(blocks.join('\n'))
    if (more > 0) await write(`\n(${plural(more, 'more row')}, ${total} in all; .maxrows N shows more)\n`)
    return
  }
  if (names.length === 0) {
    await write('OK\n')
    return
  }
  const { text, hidden } = renderTable({ columns: stream.columns, rows, width: options.width })
  await write(text)
  await write(wrap(more > 0 ? `(${plural(total, 'row')}, ${rows.length} shown: ${plural(more, 'more row')}; .maxrows N shows more)` : `(${plural(total, 'row')})`, options.width))
  if (hidden.length > 0) await write(wrap(`(${plural(hidden.length, 'column')} not shown to fit the terminal: ${hidden.join(', ')}; .mode line shows every column)`, options.width))
}
