import type { RegisterCommand } from '../command-context.ts'
import { ColdpipeError } from '../../core/errors.ts'
import { createExporter, type ExportRunRecord } from '../../ingest/export/index.ts'
import { buildJobsFromConfig, describeJobsFromConfig } from '../build-jobs.ts'
import type { RunOptions } from '../../jobs/job-types.ts'
import { jobsDefaults } from '../../jobs/jobs-config.ts'
import { exportStage } from '../export-stage.ts'
import { runManualJob } from '../manual-run/run-manual-job.ts'
import { ExportProgressDisplay } from '../progress/export-progress-display.ts'
import { formatBytes, formatCount, formatDuration } from '../progress/human-units.ts'

function summary(records: ExportRunRecord[]): string {
  const header = ['table', 'mode', 'status', 'rows', 'size', 'watermark', 'time', 'error']
  const lines = records.map((r) => [
    `${r.source}.${r.table}`,
    r.mode,
    r.status,
    formatCount(r.rows),
    formatBytes(r.bytes),
    r.watermarkAfter ?? '-',
    formatDuration(r.durationMs),
    r.error ? `${r.error.code}: ${r.error.message}` : '',
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)))
  const row = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()
  return [row(header), row(widths.map((w) => '-'.repeat(w))), ...lines.map(row)].join('\n') + '\n'
}

interface ExportFlags {
  full?: boolean
  table?: string[]
  from?: string
  to?: string
  runId?: string
  json?: boolean
}

/**
 * `coldpipe export <source>`: one export run of a source's tables into the lake, run as a manual run of the
 * source's export job, so it takes the same lock as the scheduled run (one writer per table), is recorded
 * in run history, has the job's deadline, and alerts like any run.
 */
export const registerExportCommand: RegisterCommand = (program, context) => {
  program
    .command('export <source>')
    .option('--full', 'backfill: export every row and replace earlier files, whatever the table mode')
    .option('--table <name...>', 'only these tables')
    .option('--from <cursor>', 're-export rows with cursor >= this value (with --to; the watermark does not move)')
    .option('--to <cursor>', 're-export rows with cursor <= this value')
    .option('--run-id <id>', 'run id (rerunning the same id commits nothing twice)')
    .option('--json', 'print the run records as JSON')
    .action(async (source: string, flags: ExportFlags) => {
      const loaded = await context.config()
      if (!loaded.sources[source]) {
        throw new ColdpipeError('SOURCE_UNKNOWN', `${context.configPath()}: sources.${source} is not configured`, { context: { path: `sources.${source}` } })
      }
      if ((flags.from === undefined) !== (flags.to === undefined)) {
        throw new ColdpipeError('CONFIG_INVALID', '--from and --to go together', { context: { path: flags.from === undefined ? '--from' : '--to' } })
      }
      const jobsConfig = { ...jobsDefaults, ...loaded.jobs }
      const config = { ...loaded, jobs: jobsConfig }
      const logger = context.logger
      const exporter = createExporter({ sources: config.sources, exports: config.exports, lakeRoot: config.lake, logger })
      context.onShutdown(() => exporter.close())
      // DuckDB and the source's connection start opening now, beside the job's lease and run record.
      exporter.warmUp(source)
      let records: ExportRunRecord[] = []
      const progress = new ExportProgressDisplay(process.stderr)
      const jobs = buildJobsFromConfig(config, {
        // The last attempt's records are the summary; a failed table fails the run (retried, recorded, alerted).
        runExport: exportStage(exporter, (attempt) => (records = attempt), progress.update),
      })
      const job = pickJob(config, source, flags.table)
      const options: RunOptions = {
        ...(flags.full ? { full: true } : {}),
        ...(job.tables ? { tables: job.tables } : {}),
        ...(flags.from !== undefined && flags.to !== undefined ? { cursorRange: { from: flags.from, to: flags.to } } : {}),
      }
      const final = await runManualJob(context, {
        job: jobs.find((j) => j.id === job.id)!,
        lakeRoot: config.lake,
        jobs: jobsConfig,
        options,
        ...(flags.runId ? { runId: flags.runId } : {}),
      })
      progress.close()
      process.stdout.write(flags.json ? `${JSON.stringify(records, null, 2)}\n` : summary(records))
      if (final.status === 'failed') {
        const error = final.error!
        process.stderr.write(`coldpipe: ${error.code}: ${error.message} (run ${final.runId} of job ${final.job})\n`)
        process.exitCode = 1
      }
    })
}

/**
 * The job a manual export runs as: the one owning every table asked for (a table with its own schedule has
 * its own job), else the source's job holding the locks of the jobs whose tables it touches. Without
 * --table, every configured table is named so those locks are taken too.
 */
function pickJob(config: Parameters<typeof describeJobsFromConfig>[0], source: string, tables: string[] | undefined): { id: string; tables?: string[] } {
  const sourceJob = `export:${source}`
  const own = describeJobsFromConfig(config).filter((d) => d.kind === 'export' && d.source === source && d.id !== sourceJob)
  if (!tables) {
    if (own.length === 0) return { id: sourceJob }
    return { id: sourceJob, tables: config.exports.find((e) => e.source === source)?.tables?.map((t) => t.name) ?? [] }
  }
  const owners = new Set(tables.map((t) => own.find((d) => d.tables?.[0] === t)?.id ?? sourceJob))
  return { id: owners.size === 1 ? [...owners][0]! : sourceJob, tables }
}
