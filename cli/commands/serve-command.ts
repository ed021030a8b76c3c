import { resolve } from 'node:path'
import { ColdpipeError } from '../../core/errors.ts'
import { createMetricsRegistry } from '../../core/metrics.ts'
import { startServer } from '../../reports-api/index.ts'
import { SnapshotStore } from '../../warehouse/snapshot-store.ts'
import type { RegisterCommand } from '../command-context.ts'

function parsePort(value: string, origin: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) {
    throw new ColdpipeError('CONFIG_INVALID', `${origin}: port must be an integer between 0 and 65535 (got ${JSON.stringify(value)})`, {
      context: { path: origin },
    })
  }
  return Number(value)
}

/** `coldpipe serve [--port N]`: the reports API over the configured warehouse and report folder. */
export const registerServeCommand: RegisterCommand = (program, context) => {
  program
    .command('serve')
    .description('Serve the reports API (named reports, ad-hoc SQL, web page) over the published warehouse snapshots')
    .option('-p, --port <port>', 'port to listen on (PORT in the environment overrides config api.port; --port overrides both)')
    .option('--host <host>', 'address to bind (default config api.host)')
    .action(async (options: { port?: string; host?: string }) => {
      const config = context.config()
      const port = options.port !== undefined ? parsePort(options.port, '--port') : process.env.PORT ? parsePort(process.env.PORT, 'PORT') : config.api.port
      const reportsDir = config.reports ?? resolve(context.configPath(), '..', 'reports')
      const server = await startServer({
        snapshots: new SnapshotStore(config.warehouse.path),
        reportsDir,
        config: config.api,
        logger: context.logger,
        metrics: createMetricsRegistry(),
        port,
        host: options.host ?? config.api.host,
      })
      context.onShutdown(() => server.close())
      process.stderr.write(`coldpipe: reports API on ${server.url} (reports from ${reportsDir}, warehouse ${config.warehouse.path})\n`)
      // The action returns; the listening server keeps the process alive until SIGINT/SIGTERM closes it.
    })
}
