import type { RegisterCommand } from '../command-context.ts'
import { ColdpipeError } from '../../core/errors.ts'
import { openSnapshotForSql } from '../../warehouse/run-sql.ts'
import type { SessionSettings } from '../sql-prompt/dot-commands.ts'
import { outputModes, type OutputMode } from '../sql-prompt/render-result.ts'
import { SqlSession, terminalScreen } from '../sql-prompt/sql-session.ts'

interface SqlOptions {
  snapshot?: string
  command?: string
  format?: string
  maxRows?: string
  allowLocalFiles?: boolean
}

/** Rows shown in table and line mode on a terminal, as duckdb's CLI does; a pipe gets every row. */
const terminalMaxRows = 40

/** How long a query interrupted at shutdown may take to stop before the process exits without closing it. */
const stopGraceMs = 2000

/**
 * `coldpipe sql`: read-only SQL on the current or a chosen snapshot, `-c` or a prompt. The engine runs in
 * the same sandbox as the reports API (no files, network, extensions or settings changes) unless the local
 * user asks for local files with --allow-local-files. Several statements run in order, each result printed.
 */
export const registerSqlCommand: RegisterCommand = (program, context) => {
  rewriteShortCommandFlag(process.argv)
  program
    .command('sql')
    .option('--snapshot <n>', 'snapshot id (default: current)')
    .option('-c, --command <sql>', 'run these statements (and dot commands, one a line) in order and exit')
    .option('--format <format>', 'table, csv, json or line (the prompt: .mode)', 'table')
    .option('--max-rows <n>', `rows shown in table and line format, 0 for all (default: ${terminalMaxRows} on a terminal, all on a pipe)`)
    .option('--allow-local-files', 'let statements read and write local files (read_csv, COPY … TO); extensions and settings stay locked')
    .action(async (options: SqlOptions) => {
      const format = options.format ?? 'table'
      if (!outputModes.includes(format as OutputMode)) {
        throw new ColdpipeError('REQUEST_INVALID', `--format must be one of ${outputModes.join(', ')}, not ${format}`, { context: { field: 'format' } })
      }
      const snapshot = options.snapshot === undefined ? undefined : Number(options.snapshot)
      if (snapshot !== undefined && !Number.isInteger(snapshot)) {
        throw new ColdpipeError('REQUEST_INVALID', `--snapshot must be a snapshot id, not ${options.snapshot}`, { context: { field: 'snapshot' } })
      }
      const maxRows = options.maxRows === undefined ? undefined : Number(options.maxRows)
      if (maxRows !== undefined && !(Number.isInteger(maxRows) && maxRows >= 0)) {
        throw new ColdpipeError('REQUEST_INVALID', `--max-rows must be a row count (0: all), not ${options.maxRows}`, { context: { field: 'max-rows' } })
      }
      const config = await context.config()
      const db = await openSnapshotForSql(config.warehouse.path, snapshot, {
        memoryLimit: config.warehouse.memoryLimit,
        threads: config.warehouse.threads,
        localFiles: options.allowLocalFiles === true,
      })
      const screen = terminalScreen()
      const settings: SessionSettings = { mode: format as OutputMode, maxRows: maxRows ?? (screen.terminal ? terminalMaxRows : 0), timer: false, pager: true }
      const session = new SqlSession(db, settings, screen)
      // A Ctrl-C (SIGINT) during `-c` ends the process: the running query is interrupted, then the database closed.
      context.onShutdown(async () => {
        if (await session.stop(stopGraceMs)) db.close()
      })
      if (options.command !== undefined) {
        for (const line of options.command.split('\n')) if ((await session.feed(line)) === 'quit') return
        await session.finish()
        return
      }
      const { runPrompt } = await import('../sql-prompt/prompt.ts')
      await runPrompt(db, session, screen)
    })
}

/**
 * The program's global `-c` means `--config`, and commander gives global options precedence even after
 * the subcommand name; so `coldpipe sql -c "query"` would read the query as a config path. Before parsing,
 * a `-c` that follows the `sql` subcommand is rewritten to `--command` (main parses process.argv).
 */
export function rewriteShortCommandFlag(argv: string[]): void {
  let i = 2
  while (i < argv.length && argv[i]!.startsWith('-')) i += ['-c', '--config', '--log-level'].includes(argv[i]!) ? 2 : 1
  if (argv[i] !== 'sql') return
  for (let j = i + 1; j < argv.length; j++) {
    if (argv[j] === '--') break
    if (argv[j] === '-c') argv[j] = '--command'
    else if (argv[j] === '--snapshot' || argv[j] === '--format' || argv[j] === '--command' || argv[j] === '--max-rows') j++
  }
}
