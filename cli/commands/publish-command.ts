import type { RegisterCommand } from '../command-context.ts'
import { newRunId } from '../../core/logger.ts'
import { publish } from '../../warehouse/index.ts'

/** `coldpipe publish [--force]`: publish snapshot N+1 from what the lake committed since N. */
export const registerPublishCommand: RegisterCommand = (program, context) => {
  program
    .command('publish')
    .description('publish the next warehouse snapshot from lake commits since the last one')
    .option('--force', 'publish even when the lake has not changed')
    .action(async (options: { force?: boolean }) => {
      const config = context.config()
      const logger = context.logger.child({ runId: newRunId('publish') })
      const result = await publish({ lakeRoot: config.lake, warehouse: config.warehouse, models: config.models, logger, force: options.force ?? false })
      process.stdout.write(result.published
        ? `published snapshot ${result.manifest.id} (lake version ${result.manifest.lakeVersion})\n`
        : `nothing published: ${result.reason}\n`)
    })
}
