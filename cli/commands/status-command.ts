import type { RegisterCommand } from '../command-context.ts'
import { collectStatus, renderStatus } from '../../jobs/index.ts'
import { describeJobsFromConfig } from '../build-jobs.ts'

/** `coldpipe status`: one screen of jobs, freshness, ingest lag, snapshot age and open breakers. */
export const registerStatusCommand: RegisterCommand = (program, context) => {
  program
    .command('status')
    .option('--json', 'print the status as JSON')
    .action(async (options: { json?: boolean }) => {
      const config = await context.config()
      const status = await collectStatus({
        lakeRoot: config.lake,
        warehousePath: config.warehouse.path,
        jobs: describeJobsFromConfig(config),
        sources: Object.keys(config.sources),
        ...(config.pii ? { erasureWarnDays: config.pii.erasureWarnDays } : {}),
      })
      process.stdout.write(options.json ? `${JSON.stringify(status, null, 2)}\n` : renderStatus(status))
    })
}
