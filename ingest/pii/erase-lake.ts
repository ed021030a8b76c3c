import { readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { quoteLiteral, type Database } from '../../core/duckdb/index.ts'
import { ColdpipeError, isColdpipeError } from '../../core/errors.ts'
import type { Logger } from '../../core/logger.ts'
import { writeFileAtomic, type CommitLog, type DeadLetter, type LakeFile } from '../../lake/index.ts'
import { commitRewrites, fileSelect, type PlannedRewrite } from '../../lake/erasure/index.ts'
import { maskDeadLetter } from './mask-dead-letter.ts'
import type { MaskingRules } from './masking-rules.ts'
import type { ErasureSubject } from './pii-config.ts'
import type { PiiKey } from './pii-key.ts'
import { TableLanding } from './table-landing.ts'

/** Per `service.table.column`: HMACs of the values whose rows belong to the subject. */
export type ErasureMatches = Record<string, string[]>

function splitColumn(id: string): { table: string; service: string; name: string; column: string } {
  const last = id.lastIndexOf('.')
  const table = id.slice(0, last)
  const dot = table.indexOf('.')
  return { service: table.slice(0, dot), table: table.slice(dot + 1), name: id.slice(last + 1), column: id }
}

/** The TableLanding that recognises the matched rows of one table (its masking, so hashed columns compare as stored). */
function matcher(rules: MaskingRules, key: PiiKey, matches: ErasureMatches, service: string, table: string): TableLanding {
  return new TableLanding(service, table, rules.forTable(service, table), key, erasedOf(matches, service, table))
}

function filesOf(log: CommitLog, service: string, table: string): LakeFile[] {
  return [...log.activeFiles().values()].filter((f) => f.service === service && f.table === table)
}

function unionColumns(files: LakeFile[]): { name: string; type: string }[] {
  const out = new Map<string, string>()
  for (const f of files) for (const c of f.columns ?? []) if (!out.has(c.name)) out.set(c.name, c.type)
  return [...out].map(([name, type]) => ({ name, type }))
}

/**
 * Every value that identifies the subject's rows: the subject's own value in each key column, then, to a
 * fixed point, the referenced values of rows already matched (a buyer's id, then that buyer's orders' ids),
 * read from the lake's active files. Held as HMACs only.
 */
export async function resolveMatches(log: CommitLog, db: Database, rules: MaskingRules, subject: ErasureSubject, value: string): Promise<ErasureMatches> {
  const key = rules.key!
  const found = new Map<string, Set<string>>(subject.keys.map((column) => [column, new Set([key.hmacHex(value)])]))
  const dependents = subject.dependents ?? []
  for (let round = 0; round < 10; round++) {
    let grew = false
    for (const dependent of dependents) {
      const ref = splitColumn(dependent.references)
      const files = filesOf(log, ref.service, ref.table)
      if (files.length === 0) continue
      const snapshot = Object.fromEntries([...found].map(([c, s]) => [c, [...s]]))
      const landing = matcher(rules, key, snapshot, ref.service, ref.table)
      const columns = unionColumns(files)
      const condition = landing.erasedCondition(columns)
      if (!condition || !columns.some((c) => c.name === ref.name)) continue
      const read = `read_parquet([${files.map((f) => quoteLiteral(log.layout.absolute(f.path))).join(', ')}], union_by_name = true, hive_partitioning = false)`
      const rows = await db.all<{ v: string | null }>(`SELECT DISTINCT CAST("${ref.name.replace(/"/g, '""')}" AS VARCHAR) AS v FROM ${read} WHERE ${condition}`)
      const hashed = rules.forTable(ref.service, ref.table).get(ref.name) === 'hash'
      let set = found.get(dependent.column)
      if (!set) found.set(dependent.column, (set = new Set()))
      for (const { v } of rows) {
        if (v === null) continue
        const h = hashed ? v : key.hmacHex(v)
        if (!set.has(h)) {
          set.add(h)
          grew = true
        }
      }
    }
    if (!grew) break
  }
  return Object.fromEntries([...found].map(([c, s]) => [c, [...s].sort()]))
}

export interface LakeErasureOutcome {
  commits: number[]
  filesRewritten: { from: string; to: string | null }[]
  rowsRemoved: Record<string, number>
  deadLetterFiles: { rewritten: string[]; deleted: string[] }
  deadLettersRemoved: number
}

/**
 * Rewrites every active lake file holding a matched row without it: one commit per round (new files added,
 * old ones removed, with the reason), old files deleted from disk. Rounds repeat until a scan finds nothing,
 * since a landing that read the erasure list just before the subject was added may commit a matched row
 * after the first round; a round that loses a race with a full export or compaction
 * (LAKE_COMMIT_CONFLICT) is planned again.
 */
export async function eraseFromLake(
  log: CommitLog,
  db: Database,
  rules: MaskingRules,
  matches: ErasureMatches,
  draft: { runId: string; reason: string; erasureId: string },
  logger: Logger,
): Promise<LakeErasureOutcome> {
  const key = rules.key!
  const tables = [...new Set(Object.keys(matches).map((c) => { const s = splitColumn(c); return `${s.service}\u0000${s.table}` }))].map((t) => t.split('\u0000') as [string, string])
  const outcome: LakeErasureOutcome = { commits: [], filesRewritten: [], rowsRemoved: {}, deadLetterFiles: { rewritten: [], deleted: [] }, deadLettersRemoved: 0 }
  for (let round = 1; round <= 20; round++) {
    await log.refresh()
    const planned: PlannedRewrite[] = []
    for (const [service, table] of tables) {
      const landing = matcher(rules, key, matches, service, table)
      for (const file of filesOf(log, service, table)) {
        const base = fileSelect(log, file)
        const count = landing.erasedCountSql(base.sql, base.columns)
        if (!count) continue
        const [row] = await db.all<{ n: bigint | number }>(count)
        if (Number(row?.n ?? 0) > 0) planned.push({ file, select: landing.keepSelect(base.sql, base.columns) })
      }
    }
    if (planned.length === 0) break
    try {
      const done = await commitRewrites(log, db, planned, { kind: 'erasure', runId: draft.runId, info: { reason: draft.reason, erasure: draft.erasureId } })
      outcome.commits.push(done.version)
      outcome.filesRewritten.push(...done.replaced)
      for (const [id, r] of Object.entries(done.rows)) outcome.rowsRemoved[id] = (outcome.rowsRemoved[id] ?? 0) + (r.before - r.after)
      logger.info({ erasure: draft.erasureId, round, version: done.version, files: planned.length }, 'erasure rewrote lake files')
    } catch (error) {
      if (!isColdpipeError(error, 'LAKE_COMMIT_CONFLICT')) throw error
      logger.info({ erasure: draft.erasureId, round }, 'another writer replaced files this erasure was rewriting; planning again')
    }
    if (round === 20) throw new ColdpipeError('ERASURE_FAILED', `erasure ${draft.erasureId}: matched rows still landing after 20 rounds`, { context: { erasure: draft.erasureId } })
  }
  for (const [service, table] of tables) {
    const erased = erasedOf(matches, service, table)
    const dir = join(log.layout.deadDir, service, table)
    const names = (await readdir(dir, { recursive: true }).catch(() => [] as string[])).map(String).filter((n) => n.endsWith('.ndjson'))
    for (const name of names) {
      const file = join(dir, name)
      const letters = (await readFile(file, 'utf8')).split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as DeadLetter)
      // Letters were masked at landing; the others are written back as they are.
      const keep = letters.filter((letter) => maskDeadLetter(letter, new Map(), key, erased) !== undefined)
      if (keep.length === letters.length) continue
      outcome.deadLettersRemoved += letters.length - keep.length
      const relative = log.layout.relative(file)
      if (keep.length === 0) {
        await rm(file, { force: true })
        outcome.deadLetterFiles.deleted.push(relative)
      } else {
        // Replacing the file atomically frees the old one's blocks; no copy with the subject's letters stays.
        await writeFileAtomic(log.layout.tmpDir, file, keep.map((l) => JSON.stringify(l)).join('\n') + '\n')
        outcome.deadLetterFiles.rewritten.push(relative)
      }
    }
  }
  return outcome
}

function erasedOf(matches: ErasureMatches, service: string, table: string): Map<string, Set<string>> {
  const erased = new Map<string, Set<string>>()
  const prefix = `${service}.${table}.`
  for (const [column, hashes] of Object.entries(matches)) if (column.startsWith(prefix)) erased.set(column.slice(prefix.length), new Set(hashes))
  return erased
}
