import { resolve } from 'node:path'
import type { RegisterCommand } from '../command-context.ts'
import { listenPort } from '../listen-port.ts'
import { startPipeline } from '../start-pipeline.ts'

/** `coldpipe start`: the scheduler (exports, publish, compaction, retention), change ingest and the reports API. */
export const registerStartCommand: RegisterCommand = (program, context) => {
  program
    .command('start')
    .description('run the pipeline from the config: cron jobs (exports, publish, compaction, retention), change ingest when `changes` is set, and the reports API with /jobs')
    .option('-p, --port <port>', 'API port (PORT in the environment overrides config api.port; --port overrides both)')
    .option('--host <host>', 'address to bind (default config api.host)')
    .option('--no-ingest', 'do not consume the change topics even when `changes` is configured')
    .action(async (options: { port?: string; host?: string; ingest: boolean }) => {
      const config = context.config()
      const reportsDir = config.reports ?? resolve(context.configPath(), '..', 'reports')
      const pipeline = await startPipeline({
        config,
        logger: context.logger,
        reportsDir,
        port: listenPort(options.port, config.api.port),
        ...(options.host ? { host: options.host } : {}),
        ingest: options.ingest,
        onFatal: () => {
          process.exitCode = 1
          process.kill(process.pid, 'SIGTERM')
        },
      })
      context.keepRunning()
      context.onShutdown(() => pipeline.close())
      const jobs = await pipeline.scheduler.list()
      process.stderr.write(`coldpipe: pipeline running; reports API on ${pipeline.url}\n`)
      for (const job of jobs) {
        process.stderr.write(`  ${job.id.padEnd(24)} ${job.schedule ? `${job.schedule.cron} (${job.schedule.timezone}) next ${job.nextRunAt ?? '-'}` : 'manual only'}\n`)
      }
    })
}
