import { missingPublishSchedule } from '../check/publish-schedule.ts'
import { reportsFolderExists, reportsFolderOf } from '../check/reports-folder.ts'
import type { RegisterCommand } from '../command-context.ts'
import { listenPort } from '../listen-port.ts'
import { startPipeline } from '../start-pipeline.ts'

/** `coldpipe start`: the scheduler (exports, publish, compaction, retention), change ingest and the reports API. */
export const registerStartCommand: RegisterCommand = (program, context) => {
  program
    .command('start')
    .option('-p, --port <port>', 'API port (PORT in the environment overrides config api.port; --port overrides both)')
    .option('--host <host>', 'address to bind (default config api.host)')
    .option('--no-ingest', 'do not consume the change topics even when `changes` is configured')
    .action(async (options: { port?: string; host?: string; ingest: boolean }) => {
      context.logAsServer()
      const config = await context.config()
      const reportsDir = reportsFolderOf(config, context.configPath())
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
      // Running without these is allowed (a lake-filling node, reports added later) but rarely meant: say so once, at start.
      const publish = missingPublishSchedule(config)
      if (publish) process.stderr.write(`coldpipe: warning: ${publish.message}; ${publish.fix}\n`)
      if (!reportsFolderExists(reportsDir)) process.stderr.write(`coldpipe: warning: reports folder ${reportsDir} does not exist: the API serves no reports until it is created\n`)
    })
}
