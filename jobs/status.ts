import { existsSync } from 'node:fs'
import { CommitLog, LakeLayout, type CorruptEntry, type Watermark } from '../lake/index.ts'
import { SnapshotStore } from '../warehouse/snapshot-store.ts'
import { collectMaintenanceStatus, renderMaintenance, type MaintenanceStatus } from '../warehouse/maintenance-status.ts'
import { parseCronSchedule } from './cron-time.ts'
import type { JobSchedule, RunRecord, SourceHealth, SourceHealthProvider } from './job-types.ts'
import { JobLocks } from './job-lock.ts'
import { RunHistory } from './run-history.ts'
import { displayStatus, liveRuns } from './run-liveness.ts'
import { readRecordedSourceHealth } from '../ingest/export/source-guard.ts'
import { collectErasureStatus, renderErasures, type ErasureStatus } from '../lake/erasure/index.ts'
import { piiDefaults } from '../ingest/pii/pii-config.ts'
import { reconciliationLines, renderReconciliation, type ReconciliationLine } from '../warehouse/reconcile/reconcile-status.ts'

/** What status needs to know about a job; `Job` fits, and so does a description built from config alone. */
export interface JobDescription {
  id: string
  kind: string
  source?: string
  /** Export jobs: the tables a run exports when not told otherwise (all of the export's when absent). */
  tables?: string[]
  schedule?: JobSchedule
  /** Deadline of a run when it overrides the per-kind default (`jobs.runTimeoutMs`). */
  runTimeoutMs?: number
}

export interface StatusInput {
  lakeRoot: string
  /** Warehouse folder (holds snapshots/ and current.duckdb). */
  warehousePath?: string
  jobs: JobDescription[]
  /** Source names from config, so sources with no data yet still show. */
  sources?: string[]
  /** Live breaker state (in-process); without it, the state a running process recorded in the lake. */
  health?: SourceHealthProvider
  now?: Date
  /** Days before an erasure's deadline that status warns (`pii.erasureWarnDays`). */
  erasureWarnDays?: number
}

export interface JobStatus {
  id: string
  kind: string
  source?: string
  schedule?: JobSchedule
  nextRunAt?: string
  lastRun?: RunRecord
  lastSuccessAt?: string
  /** Set when the latest finished run failed. */
  failing: boolean
}

export interface SourceFreshness {
  source: string
  /** The stalest table's as-of time in the lake (what a publish now would reflect). */
  lakeAsOf?: string
  /** The stalest table's as-of time in the current snapshot (what reports show). */
  snapshotAsOf?: string
  /** now - snapshotAsOf, seconds. */
  snapshotLagSeconds?: number
  /** now - newest landed change event time (Kafka watermarks), seconds; undefined when the source has none. */
  ingestLagSeconds?: number
  tables: { table: string; kind: Watermark['kind']; position: string | null; lakeAsOf: string; snapshotAsOf?: string }[]
}

export interface StatusReport {
  generatedAt: string
  /**
   * `corrupt`: a commit the log could not read; everything shown is as of the version before it.
   * `empty`: nothing was ever committed (version is then -1).
   */
  lake: { root: string; version: number; empty: boolean; corrupt?: CorruptEntry }
  /** `stale`: tables the snapshot kept at an older state because a lake file of theirs was quarantined. */
  snapshot?: { id: number; publishedAt: string; ageSeconds: number; lakeVersion: number; stale?: { table: string; reason: string; since: string }[] }
  jobs: JobStatus[]
  sources: SourceFreshness[]
  /** Worst ingest lag over sources with change data, or undefined ("unknown") when none has any. */
  ingestLagSeconds?: number
  breakers: SourceHealth[]
  openBreakers: string[]
  /** Active files per table and the last compaction and retention results. */
  maintenance: MaintenanceStatus
  /** Erasure requests (docs/personal-data.md): pending and done, with deadline alerts; absent when none was ever made. */
  erasures?: ErasureStatus
  /** Each table's latest reconciliation against its source (docs/reconciliation.md); absent when none ran. */
  reconciliation?: ReconciliationLine[]
}

const seconds = (ms: number): number => Math.max(0, Math.round(ms / 1000))

export async function collectStatus(input: StatusInput): Promise<StatusReport> {
  const now = input.now ?? new Date()
  const history = new RunHistory(input.lakeRoot)
  const locks = new JobLocks({ lakeRoot: input.lakeRoot, leaseMs: 60_000 })
  const layout = new LakeLayout(input.lakeRoot)
  // Status only reads: an empty or missing lake is shown as such, never created.
  const log = existsSync(layout.logDir) ? await CommitLog.open(input.lakeRoot, { inspect: true }) : undefined
  const lakeMarks = log ? [...log.watermarks().values()] : []
  const store = input.warehousePath ? new SnapshotStore(input.warehousePath) : undefined
  const manifest = store ? await store.current().catch(() => undefined) : undefined
  const snapshotMarks = new Map((manifest?.watermarks ?? []).map((m) => [m.key, m]))

  const jobs: JobStatus[] = []
  for (const job of input.jobs) {
    // A run left `running` by a dead process shows as abandoned, never as running.
    const runs = await liveRuns(await history.runs(job.id, 50), history, locks)
    const finished = runs.find((r) => r.status !== 'running')
    const success = runs.find((r) => r.status === 'succeeded')
    let nextRunAt: string | undefined
    try {
      nextRunAt = job.schedule ? parseCronSchedule(job.schedule.cron, job.schedule.timezone).next(now)?.toISOString() : undefined
    } catch {
      nextRunAt = undefined
    }
    jobs.push({
      id: job.id,
      kind: job.kind,
      ...(job.source ? { source: job.source } : {}),
      ...(job.schedule ? { schedule: job.schedule } : {}),
      ...(nextRunAt ? { nextRunAt } : {}),
      ...(runs[0] ? { lastRun: runs[0] } : {}),
      ...(success?.endedAt ? { lastSuccessAt: success.endedAt } : {}),
      failing: finished?.status === 'failed',
    })
  }

  const names = new Set([...(input.sources ?? []), ...lakeMarks.map((m) => m.service), ...[...snapshotMarks.values()].map((m) => m.service)])
  const sources: SourceFreshness[] = [...names].sort().map((source) => {
    const marks = lakeMarks.filter((m) => m.service === source)
    const snaps = [...snapshotMarks.values()].filter((m) => m.service === source)
    const oldest = (list: { asOf: string }[]): string | undefined => list.map((m) => m.asOf).sort()[0]
    const kafka = marks.filter((m) => m.kind === 'kafka-offset').map((m) => m.asOf).sort().at(-1)
    const snapshotAsOf = oldest(snaps)
    return {
      source,
      ...(oldest(marks) ? { lakeAsOf: oldest(marks) } : {}),
      ...(snapshotAsOf ? { snapshotAsOf, snapshotLagSeconds: seconds(now.getTime() - Date.parse(snapshotAsOf)) } : {}),
      ...(kafka ? { ingestLagSeconds: seconds(now.getTime() - Date.parse(kafka)) } : {}),
      tables: marks
        .map((m) => ({ table: m.table, kind: m.kind, position: m.position, lakeAsOf: m.asOf, ...(snapshotMarks.get(m.key) ? { snapshotAsOf: snapshotMarks.get(m.key)!.asOf } : {}) }))
        .sort((a, b) => a.table.localeCompare(b.table)),
    }
  })
  const lags = sources.map((s) => s.ingestLagSeconds).filter((s): s is number => s !== undefined)

  const breakers = input.health ? await input.health.getSourceHealth() : await readRecordedSourceHealth(input.lakeRoot)
  const erasures = await collectErasureStatus(layout, now, input.erasureWarnDays ?? piiDefaults.erasureWarnDays)
  const reconciliation = input.warehousePath ? await reconciliationLines(input.warehousePath) : []
  return {
    generatedAt: now.toISOString(),
    lake: { root: input.lakeRoot, version: log?.latestVersion ?? -1, empty: (log?.latestVersion ?? -1) < 0, ...(log?.corrupt ? { corrupt: log.corrupt } : {}) },
    ...(manifest
      ? { snapshot: { id: manifest.id, publishedAt: manifest.publishedAt, ageSeconds: seconds(now.getTime() - Date.parse(manifest.publishedAt)), lakeVersion: manifest.lakeVersion,
          ...(manifest.stale?.length ? { stale: manifest.stale.map((s) => ({ table: s.table, reason: s.reason, since: s.since })) } : {}) } }
      : {}),
    jobs,
    sources,
    ...(lags.length > 0 ? { ingestLagSeconds: Math.max(...lags) } : {}),
    breakers,
    openBreakers: breakers.filter((b) => b.state !== 'closed').map((b) => b.source),
    maintenance: await collectMaintenanceStatus(input.lakeRoot, log?.activeFiles().values() ?? []),
    ...(erasures ? { erasures } : {}),
    ...(reconciliation.length ? { reconciliation } : {}),
  }
}

/** `90` → `1m30s`; undefined → `unknown`. */
export function formatDuration(totalSeconds: number | undefined): string {
  if (totalSeconds === undefined) return 'unknown'
  const units: [string, number][] = [['d', 86_400], ['h', 3600], ['m', 60], ['s', 1]]
  let rest = Math.round(totalSeconds)
  const parts: string[] = []
  for (const [unit, size] of units) {
    if (rest >= size || (unit === 's' && parts.length === 0)) {
      parts.push(`${Math.floor(rest / size)}${unit}`)
      rest %= size
    }
    if (parts.length === 2) break
  }
  return parts.join('')
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()
  return [line(header), ...rows.map(line)].join('\n')
}

const short = (iso: string | undefined): string => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-')

/** One screen: jobs and their last runs, freshness per source, ingest lag, snapshot age, open breakers. */
export function renderStatus(status: StatusReport): string {
  const now = Date.parse(status.generatedAt)
  const out: string[] = [`coldpipe status at ${short(status.generatedAt)}`, '']
  if (status.lake.empty) out.push('lake      empty: nothing exported or ingested yet (run `coldpipe export <source>`, or wait for the first scheduled export)')
  out.push(
    status.snapshot
      ? `snapshot  #${status.snapshot.id} published ${short(status.snapshot.publishedAt)} (${formatDuration(status.snapshot.ageSeconds)} ago, lake version ${status.snapshot.lakeVersion} of ${status.lake.version})`
      : status.lake.empty
        ? 'snapshot  none published yet'
        : `snapshot  none published yet (lake at version ${status.lake.version}; run \`coldpipe publish\`)`,
  )
  for (const s of status.snapshot?.stale ?? []) out.push(`stale     ${s.table} kept its state of before ${short(s.since)}: ${s.reason}`)
  if (status.lake.corrupt) {
    const c = status.lake.corrupt
    out.push(`lake log  CORRUPT at version ${c.version}: ${c.file} (${c.reason}); shown as of version ${status.lake.version}, lake writers stop here`)
  }
  out.push(`ingest lag  ${status.ingestLagSeconds === undefined ? 'unknown (no change data landed)' : formatDuration(status.ingestLagSeconds)}`)
  out.push(
    status.openBreakers.length === 0
      ? 'breakers  all closed'
      : `breakers  OPEN: ${status.breakers
          .filter((b) => b.state !== 'closed')
          .map((b) => `${b.source} (${b.state}${b.openedAt ? ` since ${short(b.openedAt)}` : ''}${b.lastError ? `: ${b.lastError.code} ${b.lastError.message}` : ''})`)
          .join('; ')}`,
  )
  out.push('', 'JOBS')
  out.push(
    status.jobs.length === 0
      ? '  (no jobs configured)'
      : table(
          ['job', 'schedule', 'last run', 'status', 'rows', 'attempts', 'next run', 'error'],
          status.jobs.map((j) => [
            j.id,
            j.schedule ? `${j.schedule.cron} ${j.schedule.timezone}` : 'manual',
            j.lastRun ? `${short(j.lastRun.startedAt)} (${j.lastRun.trigger})` : 'never',
            j.lastRun ? (j.failing && j.lastRun.status === 'running' ? 'running (last failed)' : displayStatus(j.lastRun)) : '-',
            j.lastRun?.rows !== undefined ? String(j.lastRun.rows) : '-',
            j.lastRun ? String(j.lastRun.attempts) : '-',
            short(j.nextRunAt),
            j.lastRun?.error ? `${j.lastRun.error.code}: ${j.lastRun.error.message}`.slice(0, 80) : '',
          ]),
        ),
  )
  out.push('', 'FRESHNESS')
  out.push(
    status.sources.length === 0
      ? '  (no sources)'
      : table(
          ['source', 'lake as of', 'snapshot as of', 'report lag', 'ingest lag'],
          status.sources.map((s) => [
            s.source,
            s.lakeAsOf ? `${short(s.lakeAsOf)} (${formatDuration((now - Date.parse(s.lakeAsOf)) / 1000)} ago)` : 'no data',
            short(s.snapshotAsOf),
            s.snapshotLagSeconds === undefined ? 'unknown' : formatDuration(s.snapshotLagSeconds),
            s.ingestLagSeconds === undefined ? 'unknown' : formatDuration(s.ingestLagSeconds),
          ]),
        ),
  )
  out.push(...renderMaintenance(status.maintenance))
  out.push(...renderErasures(status.erasures))
  out.push(...renderReconciliation(status.reconciliation))
  return out.join('\n') + '\n'
}
