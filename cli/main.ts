import { Command } from 'commander'
import { CloseStack } from '../core/close-stack.ts'
import { isColdpipeError, messageOf } from '../core/errors.ts'
import { createCommandContext, type RegisterCommand } from './command-context.ts'
import { commands } from './commands/index.ts'

const program = new Command()
program
  .name('coldpipe')
  .description('Cold-data export and reporting pipeline: service databases and Kafka change events into a Parquet lake, a DuckDB warehouse, and a reports API.')
  .option('-c, --config <file>', 'configuration file', 'coldpipe.yaml')
  .option('--log-level <level>', 'pino log level (trace, debug, info, warn, error, silent)')
  .showHelpAfterError()

const closers = new CloseStack((_error, message) => process.stderr.write(`coldpipe: error while shutting down: ${message}\n`))
let shuttingDown = false

async function shutdown(exitCode: number): Promise<never> {
  if (!shuttingDown) {
    shuttingDown = true
    await closers.closeAll()
  }
  // Pending stdout (a large CSV into a pipe) must reach its reader before the process ends.
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()))
  process.exit(exitCode)
}

process.once('SIGINT', () => void shutdown(130))
process.once('SIGTERM', () => void shutdown(143))

// The context reads global options lazily, after commander has parsed them.
const context = createCommandContext(program, (close) => closers.push(close))
for (const register of commands as RegisterCommand[]) register(program, context)

try {
  await program.parseAsync(process.argv)
  // One-shot commands end here and close what they opened; serving commands run until a signal.
  if (!context.longRunning) await shutdown(typeof process.exitCode === 'number' ? process.exitCode : 0)
} catch (error) {
  const prefix = isColdpipeError(error) ? `coldpipe: ${error.code}: ` : 'coldpipe: '
  process.stderr.write(`${prefix}${messageOf(error)}\n`)
  await shutdown(1)
}
