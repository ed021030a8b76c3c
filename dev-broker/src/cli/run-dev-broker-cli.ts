import { Command, CommanderError, InvalidArgumentError } from 'commander'
import pino, { type Logger } from 'pino'
import { DevBrokerError } from '../errors/dev-broker-error.ts'
import { startDevBroker, type DevBroker } from '../server/broker.ts'

function portNumber(value: string): number {
  const port = Number(value)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('expected a port 0-65535')
  return port
}

function positiveInt(value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer')
  return n
}

export interface DevBrokerCliOptions {
  logger?: Logger
  /** Stops the broker when aborted; the CLI wires SIGINT/SIGTERM to it. */
  signal?: AbortSignal
}

/**
 * `coldpipe dev-broker --port 9092 [--data-dir DIR]`: runs the broker until the signal aborts.
 * `argv` are the arguments after the command name.
 */
export async function runDevBrokerCli(argv: readonly string[], options: DevBrokerCliOptions = {}): Promise<void> {
  const command = new Command('dev-broker')
    .description('Kafka-protocol broker for development and tests (not for production)')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--port <port>', 'TCP port (0 = any free port)', portNumber, 9092)
    .option('--data-dir <dir>', 'keep topics and committed offsets in this folder')
    .option('--partitions <n>', 'partitions of auto-created topics', positiveInt, 1)
    .option('--retention-bytes <n>', 'bytes kept per partition', positiveInt, 256 * 1024 * 1024)
    .option('--no-auto-create-topics', 'refuse unknown topics instead of creating them')
    .exitOverride()
  try {
    command.parse([...argv], { from: 'user' })
  } catch (error) {
    // --help and --version end the command normally; anything else is a usage error.
    if (error instanceof CommanderError && error.exitCode === 0) return
    throw new DevBrokerError('CLI_ARGUMENT_INVALID', 'invalid dev-broker arguments', { cause: error, context: { argv } })
  }
  const opts = command.opts<{
    host: string
    port: number
    dataDir?: string
    partitions: number
    retentionBytes: number
    autoCreateTopics: boolean
  }>()

  const logger = options.logger ?? pino({ level: process.env.COLDPIPE_LOG_LEVEL ?? 'info', base: { app: 'coldpipe' } })
  const broker: DevBroker = await startDevBroker({
    host: opts.host,
    port: opts.port,
    dataDir: opts.dataDir,
    defaultPartitions: opts.partitions,
    retentionBytesPerPartition: opts.retentionBytes,
    autoCreateTopics: opts.autoCreateTopics,
    logger,
  })
  logger.info({ bootstrap: broker.bootstrap, dataDir: opts.dataDir ?? null }, 'dev broker ready')
  if (!options.signal) return
  await new Promise<void>((resolve) => {
    if (options.signal!.aborted) resolve()
    else options.signal!.addEventListener('abort', () => resolve(), { once: true })
  })
  await broker.close()
}
