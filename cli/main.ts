import { Command } from 'commander'
import { CloseStack } from '../core/close-stack.ts'
import { ColdpipeError, isColdpipeError, messageOf } from '../core/errors.ts'
import { createCommandContext } from './command-context.ts'
import { registerCommands } from './command-loader.ts'
import { packageVersion } from './package-version.ts'

const program = new Command()
program
  .name('coldpipe')
  .description('Cold-data export and reporting pipeline: service databases and Kafka change events into a Parquet lake, a DuckDB warehouse, and a reports API.')
  .option('-c, --config <file>', 'configuration file', 'coldpipe.yaml')
  .option('--log-level <level>', 'pino log level (trace, debug, info, warn, error, silent)')
  .version(packageVersion(), '-V, --version', 'print the coldpipe version')
  .showHelpAfterError()
  // Usage errors too are `coldpipe: CODE: message` (commander still exits 1 and shows the help).
  .configureOutput({ outputError: (text, write) => write(`coldpipe: REQUEST_INVALID: ${text.replace(/^error: /, '')}`) })

/** Set once stdout's or stderr's reader went away (EPIPE: `coldpipe … | head`): nothing more can be said. */
let outputLost = false
const closers = new CloseStack((_error, message) => {
  if (!outputLost) process.stderr.write(`coldpipe: error while shutting down: ${message}\n`)
})
let shuttingDown: Promise<never> | undefined

/** The first caller's exit code wins; later callers (the command ending because a signal stopped it) wait for it. */
function shutdown(exitCode: number): Promise<never> {
  shuttingDown ??= (async () => {
    await closers.closeAll()
    // Pending stdout (a large CSV into a pipe) must reach its reader before the process ends; a reader that
    // went away takes nothing more (and the write's callback would never come).
    if (!outputLost && !process.stdout.destroyed) await new Promise<void>((resolve) => process.stdout.write('', () => resolve()))
    process.exit(exitCode)
  })()
  return shuttingDown
}

process.once('SIGINT', () => void shutdown(130))
process.once('SIGTERM', () => void shutdown(143))

/** `coldpipe: CODE: message` on stderr, never a stack: a foreign error is INTERNAL (a bug), with its message. */
function reportFatal(error: unknown): void {
  if (outputLost) return
  process.stderr.write(`coldpipe: ${isColdpipeError(error) ? error.code : 'INTERNAL'}: ${messageOf(error)}\n`)
}

// A promise rejected with nobody listening, or a throw from a callback, ends the process loudly but cleanly:
// shutdown still closes what is open, so running jobs are recorded failed instead of left `running`.
const fatal = (error: unknown): void => {
  if (isBrokenPipe(error)) return outputGone()
  reportFatal(error)
  void shutdown(1)
}
process.on('unhandledRejection', fatal)
process.on('uncaughtException', fatal)

// The reader of stdout or stderr went away: stop as a command killed by SIGPIPE would (exit 141), closing what
// is open (a running job is recorded as failed) without a word, since there is nobody left to read one.
// Unheard, each failed write was an uncaught error whose report failed too: the process spun, deaf to SIGTERM.
function isBrokenPipe(error: unknown): boolean {
  // Also when a command wrapped the failed write in an error of its own (its cause).
  for (let e = error as (NodeJS.ErrnoException & { cause?: unknown }) | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (e.code === 'EPIPE') return true
  }
  return false
}
function outputGone(): void {
  outputLost = true
  void shutdown(141)
}
for (const stream of [process.stdout, process.stderr]) stream.on('error', (error) => (isBrokenPipe(error) ? outputGone() : fatal(error)))

// The event loop ran dry while the command had not ended: something it awaits can never settle (Node would
// exit 13 with no word). The first time, job runners end their runs (see JobRunner); if that does not let
// the command finish, say so and exit 1.
let commandDone = false
let dryRounds = 0
process.on('beforeExit', () => {
  if (commandDone || shuttingDown !== undefined || ++dryRounds < 2) return
  reportFatal(new ColdpipeError('INTERNAL', `${process.argv.slice(2).join(' ')}: stopped with work unfinished (it waited on something that can never happen; a bug)`))
  void shutdown(1)
})

// The context reads global options lazily, after commander has parsed them.
const context = createCommandContext(program, (close) => closers.push(close), outputGone)
await registerCommands(program, context, process.argv.slice(2))

try {
  await program.parseAsync(process.argv)
  commandDone = true
  // One-shot commands end here and close what they opened; serving commands run until a signal.
  if (!context.longRunning) await shutdown(typeof process.exitCode === 'number' ? process.exitCode : 0)
} catch (error) {
  if (isBrokenPipe(error)) outputGone()
  else reportFatal(error)
  await shutdown(outputLost ? 141 : 1)
}
