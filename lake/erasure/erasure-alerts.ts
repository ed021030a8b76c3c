import type { LakeLayout } from '../lake-layout.ts'
import { collectErasureStatus, type ErasureStatus } from './erasure-status.ts'

/**
 * An erasure that became due (within the warning window of its deadline) or overdue. Names the erasure by
 * id and subject kind (`pii.subjects.<name>`), never the subject's identifier or its hash.
 */
export interface ErasureAlert {
  type: 'erasure.due' | 'erasure.overdue'
  erasure: string
  subject: string
  status: 'pending' | 'failed'
  requestedAt: string
  deadline: string
  /** Seconds to the deadline when the state changed (negative: past it). */
  dueInSeconds: number
  at: string
  /** The code of the erasure's last failure; its message stays out (a DuckDB message can quote a value). */
  error?: { code: string }
}

export interface ErasureAlertsOptions {
  layout: LakeLayout
  warnDays: number
  /** How often the list is looked at. */
  checkIntervalMs: number
  /** Sends one alert; resolving to false (not delivered) sends it again at the next check. */
  alert: (alert: ErasureAlert) => Promise<boolean | void>
  /** A check that could not read the list (logged by the caller; the next check tries again). */
  onError?: (error: unknown) => void
  now?: () => Date
}

export interface ErasureAlerts {
  /** Looks at the list now and fires what changed (also what the timer does). */
  check(): Promise<ErasureAlert[]>
  close(): Promise<void>
}

type State = 'due' | 'overdue'

/**
 * Watches the erasure list of a running `coldpipe start` and alerts once per state change of an erasure not
 * done: when it becomes due within `warnDays` of its deadline, and when it becomes overdue, not at every
 * check. The states seen are kept in memory, so a restarted process alerts once more for what is due or
 * overdue at its first check (the operator hears of it after a restart rather than never).
 */
export function startErasureAlerts(options: ErasureAlertsOptions): ErasureAlerts {
  const seen = new Map<string, State>()
  let closed = false
  let running: Promise<ErasureAlert[]> | undefined
  const now = options.now ?? (() => new Date())

  const fire = async (status: ErasureStatus | undefined): Promise<ErasureAlert[]> => {
    const fired: ErasureAlert[] = []
    const open = new Set<string>()
    for (const entry of status?.entries ?? []) {
      if (entry.status !== 'pending' && entry.status !== 'failed') continue
      open.add(entry.id)
      const state: State | undefined = status!.overdue.includes(entry.id) ? 'overdue' : status!.dueSoon.includes(entry.id) ? 'due' : undefined
      if (state === undefined) {
        seen.delete(entry.id)
        continue
      }
      const before = seen.get(entry.id)
      if (before === state) continue
      seen.set(entry.id, state)
      const alert: ErasureAlert = {
        type: state === 'overdue' ? 'erasure.overdue' : 'erasure.due',
        erasure: entry.id,
        subject: entry.subject,
        status: entry.status,
        requestedAt: entry.requestedAt,
        deadline: entry.deadline,
        dueInSeconds: entry.dueInSeconds ?? 0,
        at: now().toISOString(),
        ...(entry.error ? { error: { code: entry.error.code } } : {}),
      }
      fired.push(alert)
      const delivered = await options.alert(alert).catch(() => false)
      // Not delivered (webhook down): the state change counts as not seen, so the next check tries again.
      if (delivered === false) {
        if (before === undefined) seen.delete(entry.id)
        else seen.set(entry.id, before)
      }
    }
    // Done, cleared or gone: forgotten, so a re-opened erasure (a failed re-run) alerts again.
    for (const id of [...seen.keys()]) if (!open.has(id)) seen.delete(id)
    return fired
  }

  const check = (): Promise<ErasureAlert[]> => {
    // One check at a time: a slow webhook must not make two checks alert the same change.
    running ??= collectErasureStatus(options.layout, now(), options.warnDays)
      .then(fire)
      .finally(() => (running = undefined))
    return running
  }

  const tick = (): void => {
    if (closed) return
    void check().catch((error: unknown) => options.onError?.(error))
  }
  const timer = setInterval(tick, options.checkIntervalMs)
  timer.unref()
  tick()

  return {
    check,
    async close() {
      closed = true
      clearInterval(timer)
      await running?.catch(() => undefined)
    },
  }
}
