import { ColdpipeError } from '../core/errors.ts'
import type { CommitLog, LakeFile } from '../lake/index.ts'
import type { MergeKind } from '../transform/merge/index.ts'

/** What one table must read to reach the lake version being published. */
export interface TablePlan {
  service: string
  table: string
  kind: MergeKind
  key: string[]
  rebuild: boolean
  files: LakeFile[]
  /** Commit version per file path, orders export runs. */
  seq: Map<string, number>
}

export function tableId(file: { service: string; table: string }): string {
  return `${file.service}.${file.table}`
}

function kindOf(file: LakeFile): MergeKind {
  if (file.origin === 'export') return file.mode === 'incremental' ? 'export-incremental' : 'export-full'
  return 'changes'
}

/** Which files each table must read to go from the lake at `fromVersion` to `toVersion`. */
export async function planTables(log: CommitLog, requestedFrom: number | undefined, toVersion: number): Promise<TablePlan[]> {
  // A last snapshot whose lake version was expired from the log cannot be diffed: every table is rebuilt from the active set.
  // Compaction lineage (output → inputs): an output whose inputs were all merged already holds nothing new.
  const { fromVersion, before, now, addedIn: addedAt, compactedFrom } = await log.span(requestedFrom, toVersion, { ifExpired: 'rebuild' })
  const origins = new Map<string, Set<string>>()
  for (const file of now.values()) {
    const id = tableId(file)
    origins.set(id, (origins.get(id) ?? new Set()).add(file.origin === 'export' ? 'exports' : 'change events'))
  }
  for (const [id, from] of origins) {
    if (from.size > 1) {
      throw new ColdpipeError('WAREHOUSE_PUBLISH_FAILED', `table ${id} has files from exports and from change events; a table takes rows from one path (map the change topic to another table)`, {
        context: { table: id },
      })
    }
  }
  const plans = new Map<string, TablePlan>()
  const planFor = (file: LakeFile): TablePlan => {
    const id = tableId(file)
    let plan = plans.get(id)
    if (!plan) {
      plan = { service: file.service, table: file.table, kind: kindOf(file), key: file.key ?? [], rebuild: fromVersion === undefined, files: [], seq: addedAt }
      plans.set(id, plan)
    }
    if (file.key?.length && plan.key.length === 0) plan.key = file.key
    if (file.origin === 'export') plan.kind = kindOf(file)
    return plan
  }
  for (const file of now.values()) {
    if (before.has(file.path)) continue
    const inputs = compactedFrom.get(file.path)
    const merged = inputs?.filter((path) => before.has(path)).length ?? 0
    // Planned only when it holds something new: an empty plan would drop the table from the snapshot.
    if (inputs && merged === inputs.length) continue
    const plan = planFor(file)
    if (merged > 0) plan.rebuild = true
    plan.files.push(file)
  }
  for (const file of before.values()) {
    if (now.has(file.path)) continue
    const replacedByCompaction = [...compactedFrom.values()].some((inputs) => inputs.includes(file.path))
    if (!replacedByCompaction) planFor(file).rebuild = true
  }
  for (const plan of plans.values()) {
    if (plan.kind === 'export-full') plan.rebuild = true
    if (plan.rebuild) plan.files = [...now.values()].filter((file) => tableId(file) === tableId(plan))
  }
  return [...plans.values()]
}
