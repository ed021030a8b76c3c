import type { RegisterCommand } from '../command-context.ts'
import { ColdpipeError } from '../../core/errors.ts'
import { createExporter, type ExportRunRecord } from '../../ingest/export/index.ts'

function summary(records: ExportRunRecord[]): string {
  const header = ['table', 'mode', 'status', 'rows', 'bytes', 'watermark', 'seconds', 'error']
  const lines = records.map((r) => [
    `${r.source}.${r.table}`,
    r.mode,
    r.status,
    String(r.rows),
    String(r.bytes),
    r.watermarkAfter ?? '-',
    (r.durationMs / 1000).toFixed(1),
    r.error ? `${r.error.code}: ${r.error.message}` : '',
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)))
  const row = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()
  return [row(header), row(widths.map((w) => '-'.repeat(w))), ...lines.map(row)].join('\n') + '\n'
}

/** `coldpipe export <source>`: one export run of a source's tables into the lake. */
export const registerExportCommand: RegisterCommand = (program, context) => {
  program
    .command('export <source>')
    .description('export tables of a source database into the lake (incremental by cursor, or full)')
    .option('--full', 'backfill: export every row and replace earlier files, whatever the table mode')
    .option('--table <name...>', 'only these tables')
    .option('--from <cursor>', 're-export rows with cursor >= this value (with --to; the watermark does not move)')
    .option('--to <cursor>', 're-export rows with cursor <= this value')
    .option('--run-id <id>', 'run id (rerunning the same id commits nothing twice)')
    .option('--json', 'print the run records as JSON')
    .action(async (source: string, options: { full?: boolean; table?: string[]; from?: string; to?: string; runId?: string; json?: boolean }) => {
      const config = context.config()
      if (!config.sources[source]) {
        throw new ColdpipeError('SOURCE_UNKNOWN', `${context.configPath()}: sources.${source} is not configured`, { context: { path: `sources.${source}` } })
      }
      if ((options.from === undefined) !== (options.to === undefined)) {
        throw new ColdpipeError('CONFIG_INVALID', '--from and --to go together', { context: { path: options.from === undefined ? '--from' : '--to' } })
      }
      const exporter = createExporter({ sources: config.sources, exports: config.exports, lakeRoot: config.lake, logger: context.logger })
      context.onShutdown(() => exporter.close())
      const records = await exporter.runExport(source, {
        ...(options.runId ? { runId: options.runId } : {}),
        ...(options.full ? { full: true } : {}),
        ...(options.table ? { tables: options.table } : {}),
        ...(options.from !== undefined && options.to !== undefined ? { cursorRange: { from: options.from, to: options.to } } : {}),
      })
      process.stdout.write(options.json ? `${JSON.stringify(records, null, 2)}\n` : summary(records))
      if (records.some((r) => r.status === 'failed')) process.exitCode = 1
    })
}
