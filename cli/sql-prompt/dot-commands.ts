import { ColdpipeError } from '../../core/errors.ts'
import { outputModes, type OutputMode } from './render-result.ts'

/** What a session can change with dot commands. */
export interface SessionSettings {
  mode: OutputMode
  /** Rows shown in table and line mode (0: all). */
  maxRows: number
  timer: boolean
  pager: boolean
}

export type DotAction = { kind: 'quit' } | { kind: 'sql'; sql: string } | { kind: 'text'; text: string }

const help: Array<[string, string]> = [
  ['.tables', 'list the tables and views of the snapshot'],
  ['.schema [schema.]table', 'columns of a table (of every table without an argument)'],
  ['.mode table|csv|json|line', 'output format'],
  ['.maxrows N', 'rows shown in table and line mode before "N more rows" (0: all)'],
  ['.timer on|off', 'print the run time of each statement'],
  ['.pager on|off', 'page output longer or wider than the terminal ($PAGER, else less -RFX)'],
  ['.help', 'this list'],
  ['.quit, .exit', 'leave (Ctrl-D too; Ctrl-C cancels a running query or clears the line)'],
]

export const dotCommandNames = ['.tables', '.schema', '.mode', '.maxrows', '.timer', '.pager', '.help', '.quit', '.exit']

const literal = (value: string): string => `'${value.replace(/'/g, "''")}'`

const userSchemas = `table_schema NOT IN ('_cp_state', 'information_schema', 'pg_catalog')`

function onOff(command: string, arg: string | undefined): boolean {
  if (arg === 'on' || arg === 'off') return arg === 'on'
  throw new ColdpipeError('REQUEST_INVALID', `${command} takes on or off`, { context: { command } })
}

/** Runs one dot command: changes `settings`, or says what SQL to run or what text to print. */
export function dotCommand(line: string, settings: SessionSettings): DotAction {
  const [command = '', arg, ...extra] = line.trim().split(/\s+/)
  if (extra.length > 0) throw new ColdpipeError('REQUEST_INVALID', `${command}: too many arguments`, { context: { command } })
  switch (command) {
    case '.quit':
    case '.exit':
      return { kind: 'quit' }
    case '.help':
      return { kind: 'text', text: help.map(([name, what]) => `${name.padEnd(26)} ${what}\n`).join('') }
    case '.tables':
      return { kind: 'sql', sql: `SELECT table_schema AS schema, table_name AS name, table_type AS type FROM information_schema.tables WHERE ${userSchemas} ORDER BY 1, 2` }
    case '.schema': {
      const parts = arg?.split('.') ?? []
      const table = parts.pop()
      const where = [userSchemas, ...(table ? [`table_name = ${literal(table)}`] : []), ...(parts[0] ? [`table_schema = ${literal(parts[0])}`] : [])]
      const columns = table ? '' : `table_schema || '.' || table_name AS "table", `
      return {
        kind: 'sql',
        sql: `SELECT ${columns}column_name AS column, data_type AS type, is_nullable AS nullable FROM information_schema.columns WHERE ${where.join(' AND ')} ORDER BY table_schema, table_name, ordinal_position`,
      }
    }
    case '.mode':
      if (!outputModes.includes(arg as OutputMode)) throw new ColdpipeError('REQUEST_INVALID', `.mode takes ${outputModes.join(', ')}`, { context: { command } })
      settings.mode = arg as OutputMode
      return { kind: 'text', text: '' }
    case '.maxrows': {
      const n = Number(arg)
      if (arg === undefined || !Number.isInteger(n) || n < 0) throw new ColdpipeError('REQUEST_INVALID', '.maxrows takes a row count (0: all)', { context: { command } })
      settings.maxRows = n
      return { kind: 'text', text: '' }
    }
    case '.timer':
      settings.timer = onOff(command, arg)
      return { kind: 'text', text: '' }
    case '.pager':
      settings.pager = onOff(command, arg)
      return { kind: 'text', text: '' }
    default:
      throw new ColdpipeError('REQUEST_INVALID', `unknown command ${command} (.help lists them)`, { context: { command } })
  }
}
