import { writeStarterConfig } from '../init/index.ts'
import type { RegisterCommand } from '../command-context.ts'

/** `coldpipe init --from <database-url>`: a starter config listing the database's tables with suggested modes. */
export const registerInitCommand: RegisterCommand = (program, context) => {
  program
    .command('init')
    .requiredOption('--from <database-url>', 'postgres://…, mysql://… or mariadb://… URL of the database to list')
    .option('--schema <name>', 'Postgres schema to list (default public); MySQL uses the URL\'s database')
    .option('--name <source>', 'source name in the config (default: the database name)')
    .option('--force', 'overwrite the config file if it exists')
    .action(async (options: { from: string; schema?: string; name?: string; force?: boolean }) => {
      const result = await writeStarterConfig({
        from: options.from,
        file: context.configPath(),
        ...(options.force ? { force: true } : {}),
        ...(options.schema ? { schema: options.schema } : {}),
        ...(options.name ? { sourceName: options.name } : {}),
      })
      const incremental = result.tables.filter((t) => t.mode === 'incremental').length
      process.stdout.write(`wrote ${result.file}: source ${result.sourceName}, ${result.tables.length} tables (${incremental} incremental, ${result.tables.length - incremental} full)\n`)
      for (const t of result.tables) process.stdout.write(`  ${t.name.padEnd(30)} ${t.mode.padEnd(11)} ${t.reason}\n`)
      if (result.passwordVariable) process.stdout.write(`the password is read from \${${result.passwordVariable}}: set it in the environment\n`)
      process.stdout.write('next: review the file, then run `coldpipe check`\n')
    })
}
