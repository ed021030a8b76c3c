import { createMetricsRegistry } from '../../core/metrics.ts'
import { startServer } from '../../reports-api/index.ts'
import { SnapshotStore } from '../../warehouse/snapshot-store.ts'
import { requireReportsFolder } from '../check/reports-folder.ts'
import type { RegisterCommand } from '../command-context.ts'
import { listenPort } from '../listen-port.ts'

/** `coldpipe serve [--port N]`: the reports API over the configured warehouse and report folder. */
export const registerServeCommand: RegisterCommand = (program, context) => {
  program
    .command('serve')
    .option('-p, --port <port>', 'port to listen on (PORT in the environment overrides config api.port; --port overrides both)')
    .option('--host <host>', 'address to bind (default config api.host)')
    .action(async (options: { port?: string; host?: string }) => {
      context.logAsServer()
      const config = await context.config()
      const port = listenPort(options.port, config.api.port)
      const reportsDir = requireReportsFolder(config, context.configPath())
      const server = await startServer({
        snapshots: new SnapshotStore(config.warehouse.path),
        reportsDir,
        config: config.api,
        logger: context.logger,
        metrics: createMetricsRegistry(),
        port,
        host: options.host ?? config.api.host,
      })
      context.keepRunning()
      context.onShutdown(() => server.close())
      process.stderr.write(`coldpipe: reports API on ${server.url} (reports from ${reportsDir}, warehouse ${config.warehouse.path})\n`)
      // The action returns; the listening server keeps the process alive until SIGINT/SIGTERM closes it.
    })
}
