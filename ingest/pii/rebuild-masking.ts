import { readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { openDatabase } from '../../core/duckdb/index.ts'
import { ColdpipeError } from '../../core/errors.ts'
import { childLogger, newRunId, silentLogger, type Logger } from '../../core/logger.ts'
import { CommitLog, exportWatermarkKey, writeFileAtomic, type DeadLetter, type LakeFile } from '../../lake/index.ts'
import { commitRewrites, fileSelect } from '../../lake/erasure/index.ts'
import { maskDeadLetter } from './mask-dead-letter.ts'
import { describeDifferences, maskDifferences, maskStateFile, readMaskState, splitTable, wantedMaskState, writeMaskState, type MaskDifference } from './mask-state.ts'
import type { MaskingRules } from './masking-rules.ts'
import type { MaskAction } from './pii-config.ts'
import { TableLanding } from './table-landing.ts'

export interface RebuildMaskingOptions {
  lakeRoot: string
  rules: MaskingRules
  logger?: Logger
  runId?: string
  /**
   * For exported tables whose new masking cannot be computed from the lake (the plaintext is gone): remove
   * their files and reset their watermark, so the next export (`coldpipe export <source> --full`) lands them
   * anew from the source.
   */
  reexport?: boolean
}

export interface RebuiltTable {
  table: string
  action: 'rewritten' | 'removed-for-reexport' | 'recorded'
  columns: MaskDifference[]
  filesRewritten: number
  deadLetterFiles: number
}

/**
 * Whether the new action can be computed from what the lake holds: from plaintext anything can; a hash can
 * still become NULL or go; a NULL can go. Anything else needs the plaintext back (a new key, unmasking, a
 * dropped column returning).
 */
function computable(d: MaskDifference): boolean {
  if (d.keyChanged) return false
  if (d.lake === 'none') return true
  if (d.lake === 'hash') return d.config === 'drop' || d.config === 'null'
  if (d.lake === 'null') return d.config === 'drop'
  return false
}

async function tablesOf(log: CommitLog, rules: MaskingRules): Promise<string[]> {
  const ids = new Set(rules.tables)
  for (const file of log.activeFiles().values()) ids.add(`${file.service}.${file.table}`)
  const stateDir = join(log.layout.stateDir, 'pii')
  for (const name of await readdir(stateDir).catch(() => [] as string[])) if (name.endsWith('.json')) ids.add(name.slice(0, -5))
  return [...ids].sort()
}

async function deadLetterFiles(log: CommitLog, service: string, table: string): Promise<string[]> {
  const dir = join(log.layout.deadDir, service, table)
  const names = await readdir(dir, { recursive: true }).catch(() => [] as string[])
  return names.filter((n) => String(n).endsWith('.ndjson')).map((n) => join(dir, String(n)))
}

/**
 * `coldpipe pii rebuild`: brings every table whose files were masked otherwise than the config now says in
 * line with it. Where the new masking follows from the lake's values, each of the table's files is
 * rewritten (one commit per table, old files deleted from disk) and its dead letters re-masked. Where it
 * does not (PII_REBUILD_UNSUPPORTED), exported tables can be removed for a re-export (`reexport`); change
 * history cannot be fetched again, so it is refused. Then the table's mask state is recorded, and landings
 * go on.
 */
export async function rebuildMasking(options: RebuildMaskingOptions): Promise<RebuiltTable[]> {
  const runId = options.runId ?? newRunId('pii-rebuild')
  const logger = childLogger(options.logger ?? silentLogger, { runId, component: 'pii-rebuild' })
  const log = await CommitLog.open(options.lakeRoot, { logger })
  const db = await openDatabase(':memory:', { errorCode: 'LAKE_IO_FAILED' })
  const key = options.rules.key
  const out: RebuiltTable[] = []
  try {
    if (key) await key.loadInto(db)
    for (const id of await tablesOf(log, options.rules)) {
      const [service, table] = splitTable(id)
      const recorded = await readMaskState(log.layout, service, table)
      const wanted = wantedMaskState(options.rules, service, table)
      const differences = maskDifferences(recorded, wanted)
      if (differences.length === 0) continue
      await log.refresh()
      const files = [...log.activeFiles().values()].filter((f) => f.service === service && f.table === table)
      const letters = await deadLetterFiles(log, service, table)
      if (files.length === 0 && letters.length === 0) {
        await writeMaskState(log.layout, wanted)
        out.push({ table: id, action: 'recorded', columns: differences, filesRewritten: 0, deadLetterFiles: 0 })
        continue
      }
      const blocked = differences.filter((d) => !computable(d))
      if (blocked.length > 0) {
        const exported = files.length > 0 && files.every((f) => f.origin === 'export')
        if (!options.reexport || !exported || letters.length > 0) {
          throw new ColdpipeError(
            'PII_REBUILD_UNSUPPORTED',
            `${describeDifferences(id, blocked)}: the lake no longer holds the plaintext this needs. ` +
              (exported && letters.length === 0
                ? 'Rebuild with --reexport to remove the table\'s files, then run `coldpipe export <source> --full`'
                : 'Change history and dead letters cannot be fetched again; put the old rule or key back'),
            { context: { table: id, columns: blocked.map((d) => d.column) } },
          )
        }
        await removeForReexport(log, files, service, table, runId, differences)
        await writeMaskState(log.layout, wanted)
        logger.info({ table: id, files: files.length }, 'masking changed beyond what the lake can compute: files removed for a re-export')
        out.push({ table: id, action: 'removed-for-reexport', columns: differences, filesRewritten: 0, deadLetterFiles: 0 })
        continue
      }
      // The transition per column, applied to values masked the old way.
      const transition = new Map<string, MaskAction>(differences.map((d) => [d.column, d.config === 'none' ? 'hash' : d.config]))
      const landing = new TableLanding(service, table, transition, key, new Map())
      const kafkaKey = Object.keys(recorded?.actions ?? {}).length === 0
      if (files.length > 0) {
        const planned = files.map((file) => {
          const base = fileSelect(log, file)
          return { file, select: landing.maskSelect(base.sql, base.columns, { kafkaKey }) }
        })
        await commitRewrites(log, db, planned, { kind: 'masking', runId, info: { reason: `masking rebuilt: ${describeDifferences(id, differences)}`, table: id } })
      }
      for (const file of letters) await remaskDeadLetters(file, log.layout.tmpDir, transition, key)
      await writeMaskState(log.layout, wanted)
      logger.info({ table: id, files: files.length, deadLetterFiles: letters.length, state: maskStateFile(log.layout, service, table) }, 'masking rebuilt')
      out.push({ table: id, action: 'rewritten', columns: differences, filesRewritten: files.length, deadLetterFiles: letters.length })
    }
    return out
  } finally {
    db.close()
  }
}

async function removeForReexport(log: CommitLog, files: LakeFile[], service: string, table: string, runId: string, differences: MaskDifference[]): Promise<void> {
  const mark = log.watermark(exportWatermarkKey(service, table))
  const remove = files.map((f) => f.path)
  await log.commit({
    kind: 'masking',
    runId,
    remove,
    requireActive: remove,
    // From nothing: the next incremental run reads the whole table again.
    watermarks: mark ? [{ ...mark, position: null, asOf: new Date().toISOString() }] : [],
    info: { reason: `masking changed (${describeDifferences(`${service}.${table}`, differences)}); files removed for a re-export`, table: `${service}.${table}` },
  })
  for (const path of remove) await rm(log.layout.absolute(path), { force: true })
}

async function remaskDeadLetters(file: string, tmpDir: string, transition: Map<string, MaskAction>, key: MaskingRules['key']): Promise<void> {
  const lines = (await readFile(file, 'utf8')).split('\n').filter((l) => l.trim() !== '')
  const letters = lines.map((l) => JSON.parse(l) as DeadLetter).flatMap((letter) => maskDeadLetter(letter, transition, key, new Map()) ?? [])
  await writeFileAtomic(tmpDir, file, letters.map((l) => JSON.stringify(l)).join('\n') + '\n')
}
