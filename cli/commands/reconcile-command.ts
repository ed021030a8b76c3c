import type { RegisterCommand } from '../command-context.ts'
import { ColdpipeError } from '../../core/errors.ts'
import { buildReconcileJob } from '../build-jobs.ts'
import { runManualJob } from '../manual-run/run-manual-job.ts'
import { formatDuration } from '../progress/human-units.ts'

/** Exact counts: a reconciliation is about single rows. */
const formatCount = (n: number): string => n.toLocaleString('en-US')
import type { ReconcileTableResult } from '../../warehouse/reconcile/index.ts'

function keyText(key: Record<string, string | null>): string {
  const values = Object.values(key)
  return values.length === 1 ? String(values[0]) : JSON.stringify(key)
}

function summary(results: ReconcileTableResult[]): string {
  const header = ['table', 'status', 'source', 'warehouse', 'compared', 'too new', 'missing', 'extra', 'different', 'time', 'first keys / reason']
  const lines = results.map((r) => [
    `${r.source}.${r.table}`,
    r.status,
    formatCount(r.counts.sourceRows),
    formatCount(r.counts.warehouseRows),
    formatCount(r.counts.comparedRows),
    formatCount(r.counts.tooNewRows),
    String(r.missingCount),
    String(r.extraCount),
    String(r.differentCount),
    formatDuration(r.durationMs),
    r.error ? `${r.error.code}: ${r.error.message}` : r.reason ?? [...r.missing.map((m) => `-${keyText(m.key)}`), ...r.extra.map((m) => `+${keyText(m.key)}`), ...r.different.map((m) => `~${keyText(m.key)}(${m.columns?.join(',')})`)].slice(0, 5).join(' '),
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)))
  const row = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()
  const notes = results.filter((r) => r.compared.description).map((r) => `${r.source}.${r.table}: compared ${r.compared.description}${r.unresolvedSegments ? `; ${r.unresolvedSegments} differing segment(s) too big to narrow` : ''}`)
  return [row(header), row(widths.map((w) => '-'.repeat(w))), ...lines.map(row), '', ...notes].join('\n') + '\n'
}

/**
 * `coldpipe reconcile [source[.table]]`: compares the current snapshot's tables with their sources, as a manual
 * run of the `reconcile` job (its lock, run history and alerts). Exit 1 when a table differs or could not be compared.
 */
export const registerReconcileCommand: RegisterCommand = (program, context) => {
  program
    .command('reconcile [target]')
    .description('compare warehouse tables with their source databases (counts, checksums, then the differing rows by key)')
    .option('--json', 'print the results as JSON')
    .action(async (target: string | undefined, flags: { json?: boolean }) => {
      const config = await context.config()
      let only: { source: string; table?: string } | undefined
      if (target) {
        const dot = target.indexOf('.')
        only = dot < 0 ? { source: target } : { source: target.slice(0, dot), table: target.slice(dot + 1) }
        if (!config.sources[only.source]) {
          throw new ColdpipeError('SOURCE_UNKNOWN', `${context.configPath()}: sources.${only.source} is not configured`, { context: { path: `sources.${only.source}` } })
        }
      }
      let results: ReconcileTableResult[] = []
      const job = buildReconcileJob(config, {
        reconcile: async (call) => {
          const { reconcileJobResult } = await import('../../warehouse/reconcile/reconcile-job.ts')
          return reconcileJobResult(config, call, only, (r) => (results = r))
        },
      })
      const final = await runManualJob(context, { job, lakeRoot: config.lake, jobs: config.jobs })
      process.stdout.write(flags.json ? `${JSON.stringify(results, null, 2)}\n` : summary(results))
      if (final.status === 'failed') {
        process.stderr.write(`coldpipe: ${final.error?.code ?? 'JOB_FAILED'}: ${final.error?.message ?? 'reconcile failed'} (run ${final.runId} of job reconcile)\n`)
        process.exitCode = 1
      } else if (results.some((r) => r.status === 'mismatch')) {
        process.exitCode = 1
      }
    })
}
