import { createInterface } from 'node:readline'
import type { RegisterCommand } from '../command-context.ts'
import { ColdpipeError, messageOf } from '../../core/errors.ts'
import { dotCommandSql, formatResult, openSnapshotForSql, runSql, type SqlOutputFormat } from '../../warehouse/index.ts'

interface SqlOptions {
  snapshot?: string
  command?: string
  format?: SqlOutputFormat
}

/** `coldpipe sql`: read-only SQL on the current or a chosen snapshot, one query (`-c`) or a prompt. */
export const registerSqlCommand: RegisterCommand = (program, context) => {
  rewriteShortCommandFlag(process.argv)
  program
    .command('sql')
    .description('query a published snapshot read-only: -c "query" for one query, or an interactive prompt (.tables, .schema x, .quit)')
    .option('--snapshot <n>', 'snapshot id (default: current)')
    .option('-c, --command <sql>', 'run one query and exit')
    .option('--format <format>', 'table, csv or json', 'table')
    .action(async (options: SqlOptions) => {
      const format = options.format ?? 'table'
      if (!['table', 'csv', 'json'].includes(format)) {
        throw new ColdpipeError('REQUEST_INVALID', `--format must be table, csv or json, not ${format}`, { context: { field: 'format' } })
      }
      const snapshot = options.snapshot === undefined ? undefined : Number(options.snapshot)
      if (snapshot !== undefined && !Number.isInteger(snapshot)) {
        throw new ColdpipeError('REQUEST_INVALID', `--snapshot must be a snapshot id, not ${options.snapshot}`, { context: { field: 'snapshot' } })
      }
      const config = context.config()
      const db = await openSnapshotForSql(config.warehouse.path, snapshot, { memoryLimit: config.warehouse.memoryLimit, threads: config.warehouse.threads })
      context.onShutdown(() => db.close())
      if (options.command !== undefined) {
        process.stdout.write(formatResult(await runSql(db, options.command), format))
        return
      }
      await prompt(async (sql) => formatResult(await runSql(db, sql), format))
    })
}

async function prompt(execute: (sql: string) => Promise<string>): Promise<void> {
  const rl = createInterface({ input: process.stdin, output: process.stdout, prompt: 'coldpipe> ', terminal: process.stdin.isTTY })
  let buffer = ''
  rl.prompt()
  for await (const line of rl) {
    const trimmed = line.trim()
    if (buffer === '' && trimmed.startsWith('.')) {
      if (trimmed === '.quit' || trimmed === '.exit') break
      const sql = dotCommandSql(trimmed)
      process.stdout.write(sql ? await safely(() => execute(sql)) : 'unknown command (.tables, .schema <table>, .quit)\n')
      rl.prompt()
      continue
    }
    buffer += `${line}\n`
    if (trimmed.endsWith(';')) {
      const sql = buffer
      buffer = ''
      process.stdout.write(await safely(() => execute(sql)))
    }
    rl.setPrompt(buffer ? '     ...> ' : 'coldpipe> ')
    rl.prompt()
  }
  rl.close()
}

async function safely(work: () => Promise<string>): Promise<string> {
  try {
    return await work()
  } catch (error) {
    const code = error instanceof ColdpipeError ? `${error.code}: ` : ''
    return `error: ${code}${messageOf(error)}\n`
  }
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
    else if (argv[j] === '--snapshot' || argv[j] === '--format' || argv[j] === '--command') j++
  }
}
