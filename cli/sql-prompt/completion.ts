import type { Database } from '../../core/duckdb/index.ts'
import { dotCommandNames } from './dot-commands.ts'

/** Names a snapshot offers for completion: schemas, tables (bare and schema-qualified) and columns. */
export interface CompletionNames {
  words: string[]
}

/** Schemas that are the engine's or coldpipe's bookkeeping, never completed. */
const hiddenSchemas = ['information_schema', 'pg_catalog', '_cp_state']

/**
 * Reads the names once from the snapshot's information_schema (it never changes under an open snapshot), on
 * a connection of its own so a query started meanwhile never shares one with it.
 */
export async function loadCompletionNames(db: Database): Promise<CompletionNames> {
  const hidden = hiddenSchemas.map((s) => `'${s}'`).join(', ')
  const connection = await db.connect()
  let tables: Array<{ s: string; t: string }>
  let columns: Array<{ c: string }>
  try {
    tables = await connection.all(`SELECT table_schema AS s, table_name AS t FROM information_schema.tables WHERE table_schema NOT IN (${hidden})`)
    columns = await connection.all(`SELECT DISTINCT column_name AS c FROM information_schema.columns WHERE table_schema NOT IN (${hidden})`)
  } finally {
    connection.close()
  }
  const words = new Set<string>()
  for (const { s, t } of tables) {
    words.add(s)
    words.add(t)
    words.add(`${s}.${t}`)
  }
  for (const { c } of columns) words.add(c)
  return { words: [...words].sort() }
}

/**
 * Completions for the word before the cursor, as readline's completer returns them: dot commands at the start
 * of a line, otherwise snapshot names matching case-insensitively (`ord` → `ordering`, `ordering.orders`).
 */
export function complete(line: string, names: CompletionNames | undefined): [string[], string] {
  if (/^\.\S*$/.test(line)) return [dotCommandNames.filter((name) => name.startsWith(line)), line]
  const word = /[A-Za-z0-9_.]*$/.exec(line)?.[0] ?? ''
  if (word === '' || !names) return [[], word]
  const lower = word.toLowerCase()
  return [names.words.filter((name) => name.toLowerCase().startsWith(lower)), word]
}
