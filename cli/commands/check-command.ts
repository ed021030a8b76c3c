import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { ColdpipeError } from '../../core/errors.ts'
import { renderCheck, runCheck } from '../check/index.ts'
import type { RegisterCommand } from '../command-context.ts'

/** `coldpipe check`: the config against the real systems, every problem at once with its fix; exit 1 on any failure. */
export const registerCheckCommand: RegisterCommand = (program, context) => {
  program
    .command('check')
    .option('--json', 'print the results as JSON')
    .action(async (options: { json?: boolean }) => {
      const file = context.configPath()
      if (!existsSync(file)) {
        throw new ColdpipeError('CONFIG_NOT_FOUND', `config file ${file} not found (pass --config FILE, or write one with \`coldpipe init --from <database-url>\`)`, { context: { file } })
      }
      const report = await runCheck(file, { defaultReportsDir: resolve(file, '..', 'reports') })
      process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : renderCheck(report))
      if (report.counts.fail > 0) process.exitCode = 1
    })
}
