import { runDevBrokerCli } from '../../dev-broker/index.ts'
import type { RegisterCommand } from '../command-context.ts'

/** `coldpipe dev-broker`: the Kafka-protocol development broker (tests and the demo; never production). */
export const registerDevBrokerCommand: RegisterCommand = (program, context) => {
  program
    .command('dev-broker')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--port <port>', 'TCP port (0 = any free port)', '9092')
    .option('--data-dir <dir>', 'keep topics and committed offsets in this folder (default: memory only)')
    .option('--partitions <n>', 'partitions of auto-created topics', '1')
    .option('--retention-bytes <n>', 'bytes kept per partition')
    .option('--no-auto-create-topics', 'refuse unknown topics instead of creating them')
    .action(async (options: { host: string; port: string; dataDir?: string; partitions: string; retentionBytes?: string; autoCreateTopics: boolean }) => {
      // The broker's own CLI parser validates the values and names a bad one.
      const argv = ['--host', options.host, '--port', options.port, '--partitions', options.partitions]
      if (options.dataDir) argv.push('--data-dir', options.dataDir)
      if (options.retentionBytes) argv.push('--retention-bytes', options.retentionBytes)
      if (!options.autoCreateTopics) argv.push('--no-auto-create-topics')
      context.keepRunning()
      const stop = new AbortController()
      const running = runDevBrokerCli(argv, { logger: context.logger, signal: stop.signal })
      // Shutdown waits for the broker to close its connections and flush its data directory.
      context.onShutdown(async () => {
        stop.abort()
        await running.catch(() => undefined)
      })
      await running
    })
}
