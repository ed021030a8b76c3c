import type { LakeLayout } from '../lake-layout.ts'
import { readErasureList } from './erasure-list.ts'

export interface ErasureStatusEntry {
  id: string
  subject: string
  status: 'pending' | 'done' | 'failed' | 'cleared'
  requestedAt: string
  deadline: string
  doneAt?: string
  /** Seconds to the deadline (negative: past it); only for erasures not done. */
  dueInSeconds?: number
  error?: { code: string; message: string }
}

export interface ErasureStatus {
  pending: number
  failed: number
  done: number
  cleared: number
  /** Not done and past the deadline. */
  overdue: string[]
  /** Not done and due within the warning window. */
  dueSoon: string[]
  /** Done, still on the list: landings keep their rows out until cleared. */
  keptOut: number
  entries: ErasureStatusEntry[]
}

/** The erasure list for `coldpipe status`; undefined when the lake never had an erasure. */
export async function collectErasureStatus(layout: LakeLayout, now: Date, warnDays: number): Promise<ErasureStatus | undefined> {
  const doc = await readErasureList(layout).catch(() => undefined)
  if (!doc || doc.entries.length === 0) return undefined
  const status: ErasureStatus = { pending: 0, failed: 0, done: 0, cleared: 0, overdue: [], dueSoon: [], keptOut: 0, entries: [] }
  for (const e of doc.entries) {
    status[e.status]++
    const open = e.status === 'pending' || e.status === 'failed'
    const dueInSeconds = Math.round((Date.parse(e.deadline) - now.getTime()) / 1000)
    if (open && dueInSeconds < 0) status.overdue.push(e.id)
    else if (open && dueInSeconds < warnDays * 86_400) status.dueSoon.push(e.id)
    if (e.status === 'done') status.keptOut++
    status.entries.push({
      id: e.id,
      subject: e.subject,
      status: e.status,
      requestedAt: e.requestedAt,
      deadline: e.deadline,
      ...(e.doneAt ? { doneAt: e.doneAt } : {}),
      ...(open ? { dueInSeconds } : {}),
      ...(e.error ? { error: e.error } : {}),
    })
  }
  return status
}

/** Lines for the status screen: counts, then every erasure not done with its deadline, alerting the late ones. */
export function renderErasures(status: ErasureStatus | undefined): string[] {
  if (!status) return []
  const out = ['', 'ERASURES']
  out.push(`  ${status.pending} pending, ${status.failed} failed, ${status.done} done (rows kept out at landing until cleared), ${status.cleared} cleared`)
  for (const e of status.entries) {
    if (e.status !== 'pending' && e.status !== 'failed') continue
    const days = (e.dueInSeconds ?? 0) / 86_400
    const alert = status.overdue.includes(e.id) ? `OVERDUE by ${Math.ceil(-days)}d` : status.dueSoon.includes(e.id) ? `DUE in ${Math.max(0, Math.floor(days))}d` : `due in ${Math.floor(days)}d`
    out.push(`  ${alert.padEnd(16)} ${e.id} (${e.subject}, ${e.status}, requested ${e.requestedAt.slice(0, 10)}, deadline ${e.deadline.slice(0, 10)})${e.error ? `: ${e.error.code} ${e.error.message}`.slice(0, 100) : ''}`)
  }
  if (status.overdue.length > 0) out.push(`  ALERT: ${status.overdue.length} erasure(s) past the deadline; re-run \`coldpipe erase <subject> <value>\` to finish them`)
  return out
}
