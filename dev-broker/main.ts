import pino from 'pino'
import { runDevBrokerCli } from './src/cli/run-dev-broker-cli.ts'

// node --import tsx dev-broker/main.ts --port 9092 [--data-dir DIR]
const logger = pino({ level: process.env.COLDPIPE_LOG_LEVEL ?? 'info', base: { app: 'coldpipe' } })
const stop = new AbortController()
// `on`, not `once`: tsx exits the process itself when a signal finds no listener left, which would cut
// the close short.
const onSignal = (signal: NodeJS.Signals) => {
  if (stop.signal.aborted) return
  logger.info({ signal }, 'dev broker shutting down')
  stop.abort()
}
process.on('SIGINT', onSignal)
process.on('SIGTERM', onSignal)

try {
  await runDevBrokerCli(process.argv.slice(2), { logger, signal: stop.signal })
} catch (error) {
  logger.error({ err: error }, 'dev broker failed')
  process.exitCode = 1
} finally {
  process.off('SIGINT', onSignal)
  process.off('SIGTERM', onSignal)
}
