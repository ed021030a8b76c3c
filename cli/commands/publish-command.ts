import type { RegisterCommand } from '../command-context.ts'
import { buildJobsFromConfig } from '../build-jobs.ts'
import { reconcilePrecompute, withQuarantineWarnings } from '../publish-stage.ts'
import { publish, type PublishResult } from '../../warehouse/index.ts'
import { runManualJob } from '../manual-run/run-manual-job.ts'

/**
 * `coldpipe publish [--force]`: publish snapshot N+1 from what the lake committed since N, as a manual run of
 * the publish job (its lock, so it never races a scheduled publish; recorded, so `coldpipe status` shows it).
 */
export const registerPublishCommand: RegisterCommand = (program, context) => {
  program
    .command('publish')
    .option('--force', 'publish even when the lake has not changed')
    .action(async (options: { force?: boolean }) => {
      const config = await context.config()
      let result: PublishResult | undefined
      const jobs = buildJobsFromConfig(config, {
        publish: async (call) => {
          result = await publish({ lakeRoot: config.lake, warehouse: config.warehouse, models: config.models, logger: call.logger, force: options.force ?? false })
          return withQuarantineWarnings(result)
        },
      })
      const final = await runManualJob(context, { job: jobs.find((j) => j.id === 'publish')!, lakeRoot: config.lake, jobs: config.jobs })
      if (final.status === 'failed' || !result) {
        process.stderr.write(`coldpipe: ${final.error?.code ?? 'JOB_FAILED'}: ${final.error?.message ?? 'publish failed'} (run ${final.runId} of job publish)\n`)
        process.exitCode = 1
        return
      }
      process.stdout.write(result.published
        ? `published snapshot ${result.manifest.id} (lake version ${result.manifest.lakeVersion})\n`
        : `nothing published: ${result.reason}\n`)
      // The snapshot is already visible; what follows only spares the next `coldpipe reconcile` its warehouse side.
      const precompute = result.published ? reconcilePrecompute(config, context.logger) : undefined
      if (precompute) {
        process.stderr.write('computing the warehouse side of the next reconciliation (jobs.reconcile.precompute; Ctrl-C skips it)\n')
        precompute.afterPublish(result)
        await precompute.idle()
        await precompute.close()
      }
    })
}
