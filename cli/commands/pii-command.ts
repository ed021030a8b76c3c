import type { RegisterCommand } from '../command-context.ts'
import { CommitLog } from '../../lake/index.ts'
import { describeDifferences, maskDifferences, maskingFor, readMaskState, rebuildMasking, splitTable, wantedMaskState } from '../../ingest/pii/index.ts'

/**
 * `coldpipe pii status|rebuild`: how each lake table's files are masked against what the config says, and
 * the re-masking a changed rule or key needs before landings go on (docs/personal-data.md).
 */
export const registerPiiCommand: RegisterCommand = (program, context) => {
  const pii = program.command('pii').description('masking of personal data in the lake: status, rebuild after a changed rule or key')
  pii
    .command('status')
    .description('per table: the masking its files hold, and what differs from the config')
    .action(async () => {
      const config = await context.config()
      const rules = maskingFor(config.lake)
      const log = await CommitLog.open(config.lake, { inspect: true })
      const tables = new Set(rules.tables)
      for (const file of log.activeFiles().values()) tables.add(`${file.service}.${file.table}`)
      let differing = 0
      for (const id of [...tables].sort()) {
        const [service, table] = splitTable(id)
        const recorded = await readMaskState(log.layout, service, table)
        const differences = maskDifferences(recorded, wantedMaskState(rules, service, table))
        const actions = Object.entries(recorded?.actions ?? {}).map(([c, a]) => `${c}=${a}`).join(',') || '-'
        if (differences.length > 0) differing++
        process.stdout.write(`${id}\t${actions}\t${recorded?.keyId ?? '-'}\t${differences.length === 0 ? 'ok' : `differs: ${describeDifferences(id, differences)}`}\n`)
      }
      if (differing > 0) process.exitCode = 1
    })
  pii
    .command('rebuild')
    .description('re-mask every lake file (and dead letter) of tables whose masking changed; needs the plaintext the lake still has')
    .option('--reexport', 'for exported tables whose new masking needs plaintext the lake no longer has: remove their files and reset the watermark for a full re-export')
    .action(async (options: { reexport?: boolean }) => {
      const config = await context.config()
      const rebuilt = await rebuildMasking({ lakeRoot: config.lake, rules: maskingFor(config.lake), logger: context.logger, ...(options.reexport ? { reexport: true } : {}) })
      if (rebuilt.length === 0) process.stdout.write('every table is masked as the config says; nothing to do\n')
      for (const t of rebuilt) process.stdout.write(`${t.table}\t${t.action}\tfiles ${t.filesRewritten}\tdead-letter files ${t.deadLetterFiles}\t${t.columns.map((c) => `${c.column}: ${c.lake}→${c.config}`).join(', ')}\n`)
    })
}
