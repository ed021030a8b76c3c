import type { RegisterCommand } from '../command-context.ts'
import { ColdpipeError } from '../../core/errors.ts'
import { createMetricsRegistry } from '../../core/metrics.ts'
import { startChangeIngest, type ChangeIngestStats } from '../../ingest/changes/index.ts'
import { formatBytes, formatCount } from '../progress/human-units.ts'

/**
 * `coldpipe ingest`: consumes the configured change topics into the lake until SIGTERM/SIGINT, then
 * flushes, commits and leaves the consumer group (through the shutdown hooks).
 */
export const registerIngestCommand: RegisterCommand = (program, context) => {
  program
    .command('ingest')
    .option('--group <id>', 'consumer group id (overrides changes.groupId)')
    .action(async (options: { group?: string }) => {
      const config = await context.config()
      if (!config.changes) {
        throw new ColdpipeError('CONFIG_INVALID', `${context.configPath()}: changes: is required for coldpipe ingest (brokers, groupId, topics)`, {
          context: { path: 'changes' },
        })
      }
      const changes = options.group ? { ...config.changes, groupId: options.group } : config.changes
      let fatal: Error | undefined
      const ingest = await startChangeIngest({
        config: changes,
        lakeRoot: config.lake,
        logger: context.logger,
        metrics: createMetricsRegistry(),
        onProgress: (now) => process.stderr.write(ingestProgressLine(now)),
        onFatal: (error) => {
          fatal = error
          process.kill(process.pid, 'SIGTERM')
        },
      })
      context.onShutdown(async () => {
        await ingest.stop()
        if (fatal) process.exitCode = 1
      })
      // Runs until a signal; the shutdown hook above flushes, commits and leaves the group.
      await new Promise<never>(() => undefined)
    })
}

/** On a terminal one line redrawn in place; on a pipe a plain line per interval. */
function ingestProgressLine(now: ChangeIngestStats): string {
  const text = `ingest: ${formatCount(now.rowsLanded)} rows landed, ${formatCount(now.deadLetters)} dead letters, ${formatCount(now.files)} files, ${formatBytes(now.bufferedBytes)} buffered${now.paused ? ' (paused)' : ''}`
  return process.stderr.isTTY ? `\r\x1b[2K${text}` : `${text}\n`
}
