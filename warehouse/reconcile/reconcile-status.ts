import { readResults } from './reconcile-result.ts'

/** One table's latest reconciliation, as `coldpipe status` shows it. */
export interface ReconciliationLine {
  table: string
  status: string
  checkedAt: string
  snapshot: number
  missing: number
  extra: number
  different: number
  tooNew: number
  firstKeys: string[]
  error?: string
}

export async function reconciliationLines(warehousePath: string): Promise<ReconciliationLine[]> {
  return (await readResults(warehousePath)).map((r) => ({
    table: `${r.source}.${r.table}`, status: r.status, checkedAt: r.checkedAt, snapshot: r.snapshot,
    missing: r.missingCount, extra: r.extraCount, different: r.differentCount, tooNew: r.counts.tooNewRows,
    firstKeys: r.sampleKeys.slice(0, 3).map((k) => (Object.keys(k).length === 1 ? String(Object.values(k)[0]) : JSON.stringify(k))),
    ...(r.error ? { error: `${r.error.code}: ${r.error.message}` } : r.reason ? { error: r.reason } : {}),
  }))
}

/** The RECONCILIATION section of `coldpipe status`: one line per table; nothing when no reconciliation ran. */
export function renderReconciliation(lines: ReconciliationLine[] | undefined): string[] {
  if (!lines?.length) return []
  const short = (iso: string): string => iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z')
  return ['', 'RECONCILIATION', ...lines.map((l) => {
    const what = l.status === 'mismatch'
      ? `MISMATCH ${l.missing} missing, ${l.extra} extra, ${l.different} different${l.firstKeys.length ? ` (first keys ${l.firstKeys.join(', ')})` : ''}`
      : l.status === 'match' ? 'match' : `${l.status.toUpperCase()}${l.error ? ` ${l.error}` : ''}`
    return `  ${l.table}  ${what}; ${l.tooNew} too new; snapshot #${l.snapshot} checked ${short(l.checkedAt)}`
  })]
}
