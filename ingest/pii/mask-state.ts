import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ColdpipeError, messageOf } from '../../core/errors.ts'
import { writeFileAtomic, type CommitLog, type LakeLayout } from '../../lake/index.ts'
import type { MaskingRules } from './masking-rules.ts'
import type { MaskAction } from './pii-config.ts'

/**
 * What a lake table's files are masked with: the action per column and the key's id when a column is
 * hashed. Kept per table in `_state/pii/<service>.<table>.json`, so landings of different tables never
 * write the same file, and compared at every landing: files masked one way must not be joined by files
 * masked another way (a hash under a new key no longer equals the old one; a column dropped from one
 * file and not the next).
 */
export interface TableMaskState {
  table: string
  actions: Record<string, MaskAction>
  keyId: string | null
  recordedAt: string
}

export function maskStateFile(layout: LakeLayout, service: string, table: string): string {
  return join(layout.stateDir, 'pii', `${`${service}.${table}`.replace(/[\/\\\0]/g, '_')}.json`)
}

export async function readMaskState(layout: LakeLayout, service: string, table: string): Promise<TableMaskState | undefined> {
  const file = maskStateFile(layout, service, table)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new ColdpipeError('LAKE_IO_FAILED', `cannot read ${file}: ${messageOf(error)}`, { cause: error, context: { file } })
  }
  try {
    return JSON.parse(text) as TableMaskState
  } catch (error) {
    throw new ColdpipeError('LAKE_LOG_CORRUPT', `cannot parse ${file}: ${messageOf(error)}`, { cause: error, context: { file } })
  }
}

export async function writeMaskState(layout: LakeLayout, state: TableMaskState): Promise<void> {
  const [service, table] = splitTable(state.table)
  await writeFileAtomic(layout.tmpDir, maskStateFile(layout, service, table), JSON.stringify(state, null, 2) + '\n')
}

export function splitTable(id: string): [string, string] {
  const dot = id.indexOf('.')
  return [id.slice(0, dot), id.slice(dot + 1)]
}

/** The state the rules ask for, for one table. */
export function wantedMaskState(rules: MaskingRules, service: string, table: string, now = new Date()): TableMaskState {
  const actions = Object.fromEntries([...rules.forTable(service, table)].sort(([a], [b]) => a.localeCompare(b)))
  const hashed = Object.values(actions).includes('hash')
  return { table: `${service}.${table}`, actions, keyId: hashed ? (rules.key?.id ?? null) : null, recordedAt: now.toISOString() }
}

export interface MaskDifference {
  column: string
  lake: MaskAction | 'none'
  config: MaskAction | 'none'
  /** Both hash, under different keys. */
  keyChanged: boolean
}

export function maskDifferences(lake: TableMaskState | undefined, wanted: TableMaskState): MaskDifference[] {
  const had = lake?.actions ?? {}
  const out: MaskDifference[] = []
  for (const column of new Set([...Object.keys(had), ...Object.keys(wanted.actions)])) {
    const before = had[column] ?? 'none'
    const after = wanted.actions[column] ?? 'none'
    const keyChanged = before === 'hash' && after === 'hash' && (lake?.keyId ?? null) !== wanted.keyId
    if (before !== after || keyChanged) out.push({ column, lake: before, config: after, keyChanged })
  }
  return out.sort((a, b) => a.column.localeCompare(b.column))
}

/** Whether the lake holds anything of the table: active files, or dead letters. */
export async function tableHasData(log: CommitLog, service: string, table: string): Promise<boolean> {
  for (const file of log.activeFiles().values()) if (file.service === service && file.table === table) return true
  const dead = join(log.layout.deadDir, service.replace(/[\/\\\0]/g, '_'), table.replace(/[\/\\\0]/g, '_'))
  const entries = await readdir(dead, { recursive: true }).catch(() => [] as string[])
  return entries.some((name) => String(name).endsWith('.ndjson'))
}

export function describeDifferences(id: string, differences: MaskDifference[]): string {
  return differences
    .map((d) => `${id}.${d.column}: lake files ${d.lake === 'none' ? 'are not masked' : `use ${d.lake}`}${d.keyChanged ? ' under another key' : ''}, config says ${d.config === 'none' ? 'no masking' : d.config}`)
    .join('; ')
}

/**
 * Refuses a landing whose masking differs from what the table's files already hold (PII_MASKING_CHANGED,
 * naming each column and the fix); records the masking when the table has nothing landed yet.
 */
export async function checkTableMasking(log: CommitLog, rules: MaskingRules, service: string, table: string): Promise<void> {
  const wanted = wantedMaskState(rules, service, table)
  const recorded = await readMaskState(log.layout, service, table)
  const differences = maskDifferences(recorded, wanted)
  if (differences.length === 0) return
  if (await tableHasData(log, service, table)) {
    const id = `${service}.${table}`
    throw new ColdpipeError(
      'PII_MASKING_CHANGED',
      `${describeDifferences(id, differences)}; landing refused so files masked two ways do not mix. ` +
        'Put the old rule or key back, or re-mask the lake with `coldpipe pii rebuild` (docs/personal-data.md)',
      { context: { table: id, columns: differences.map((d) => d.column), differences } },
    )
  }
  await writeMaskState(log.layout, wanted)
}
