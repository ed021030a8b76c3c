import { relative } from 'node:path'
import { runDemo } from '../../demo/run-demo.ts'
import type { RegisterCommand } from '../command-context.ts'
import { listenPort } from '../listen-port.ts'

/** `coldpipe demo`: the whole pipeline on an embedded shop, no services needed. */
export const registerDemoCommand: RegisterCommand = (program, context) => {
  program
    .command('demo')
    .option('-p, --port <port>', 'API port (default 3000; PORT in the environment overrides it; --port overrides both)')
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--data-dir <dir>', 'where the demo keeps its lake and warehouse (rebuilt at each start)', 'data/demo')
    .option('--rate <events>', 'simulated change events per second (0 = none)', '20')
    .action(async (options: { port?: string; host: string; dataDir: string; rate: string }) => {
      const say = (line: string) => void process.stderr.write(`coldpipe demo: ${line}\n`)
      const rate = Number(options.rate)
      const demo = await runDemo({
        dataDir: options.dataDir,
        port: listenPort(options.port, 3000),
        host: options.host,
        // An explicit log level means logs on stdout, as for every command; otherwise they go to a file.
        ...(program.opts<{ logLevel?: string }>().logLevel || process.env.COLDPIPE_LOG_LEVEL ? { logger: context.logger } : {}),
        rateEventsPerSecond: Number.isFinite(rate) && rate >= 0 ? rate : 20,
        say,
      })
      context.keepRunning()
      context.onShutdown(() => demo.close())
      const config = relative(process.cwd(), demo.configFile) || demo.configFile
      process.stdout.write(
        [
          '',
          `coldpipe demo is ready: ${demo.url}`,
          `  reports:      ${demo.url}/reports   (e.g. ${demo.url}/reports/top_buyers?top=5, add &format=csv)`,
          `  web page:     ${demo.url}/          API docs: ${demo.url}/docs`,
          `  ad-hoc SQL:   npx coldpipe -c ${config} sql      (read-only, works while the demo runs)`,
          '  stop with Ctrl-C',
          '',
        ].join('\n'),
      )
    })
}
