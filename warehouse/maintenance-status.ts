import type { LakeFile } from '../lake/index.ts'
import { readMaintenanceRecord, type MaintenanceRecord } from './maintenance-record.ts'

export interface TableFiles {
  /** `service.table` */
  table: string
  activeFiles: number
  bytes: number
}

/** For `coldpipe status`: active files per table, and how the last compaction and retention ended. */
export interface MaintenanceStatus {
  tables: TableFiles[]
  compaction?: MaintenanceRecord
  retention?: MaintenanceRecord
}

export async function collectMaintenanceStatus(lakeRoot: string, active: Iterable<LakeFile>): Promise<MaintenanceStatus> {
  const byTable = new Map<string, TableFiles>()
  for (const file of active) {
    const table = `${file.service}.${file.table}`
    const entry = byTable.get(table) ?? { table, activeFiles: 0, bytes: 0 }
    entry.activeFiles++
    entry.bytes += file.bytes
    byTable.set(table, entry)
  }
  const [compaction, retention] = await Promise.all([readMaintenanceRecord(lakeRoot, 'compaction'), readMaintenanceRecord(lakeRoot, 'retention')])
  return {
    tables: [...byTable.values()].sort((a, b) => a.table.localeCompare(b.table)),
    ...(compaction ? { compaction } : {}),
    ...(retention ? { retention } : {}),
  }
}

const short = (iso: string): string => iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z')

function outcome(record: MaintenanceRecord | undefined, did: (summary: Record<string, unknown>) => string): string {
  if (!record) return 'never run'
  // Not truncated: the message names the table and path an operator has to act on.
  if (record.status === 'failed') return `FAILED ${short(record.endedAt)}: ${record.error?.code ?? 'INTERNAL'} ${record.error?.message ?? ''}`
  return `succeeded ${short(record.endedAt)}: ${did(record.summary ?? {})}`
}

const n = (value: unknown): number => (typeof value === 'number' ? value : 0)

/** The MAINTENANCE and FILES sections of the status screen. */
export function renderMaintenance(status: MaintenanceStatus): string[] {
  const out = ['', 'MAINTENANCE']
  out.push(`  compaction  ${outcome(status.compaction, (s) => `${n(s.tablesCompacted)} tables, ${n(s.filesIn)} files merged into ${n(s.filesOut)}`)}`)
  out.push(
    `  retention   ${outcome(status.retention, (s) =>
      `removed ${n(s.lakeFilesRemoved)} replaced files, ${n(s.orphansRemoved)} orphans, ${n(s.snapshotsRemoved)} snapshots, ${n(s.tableFilesRemoved)} warehouse table files, ${n(s.tempsRemoved)} temps, ${n(s.deadLettersRemoved)} dead letters, ${n(s.commitsExpired)} commits`,
    )}`,
  )
  out.push('', 'FILES')
  if (status.tables.length === 0) out.push('  (no active files)')
  const width = Math.max(5, ...status.tables.map((t) => t.table.length))
  if (status.tables.length > 0) out.push(`${'table'.padEnd(width)}  active files  bytes`)
  for (const t of status.tables) out.push(`${t.table.padEnd(width)}  ${String(t.activeFiles).padStart(12)}  ${t.bytes}`)
  return out
}
