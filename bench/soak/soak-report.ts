import { jobsDefaults } from '../../jobs/jobs-config.ts'
import { median, type DayRow } from './soak-measure.ts'

const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1)
/** Slack on the run-record cap: the runner keeps every run of the second the 500th newest started in. */
const sameSecondRuns = 5

const columns: { head: string; cell: (r: DayRow) => string }[] = [
  { head: 'day', cell: (r) => String(r.day) },
  { head: 'active files (max/table)', cell: (r) => `${r.activeFiles} (${r.maxFilesPerTable} ${r.maxFilesTable})` },
  { head: 'commits (since ckpt)', cell: (r) => `${r.commits} (${r.commitsSinceCheckpoint})` },
  { head: 'log open ms', cell: (r) => r.logOpenMs.toFixed(1) },
  { head: 'status ms', cell: (r) => r.statusMs.toFixed(1) },
  { head: 'small-change publish ms', cell: (r) => `${Math.round(r.publishMs)}${r.publishOneTable === r.publishSamples ? '' : ` (${r.publishOneTable}/${r.publishSamples} one-table)`}` },
  { head: 'RSS MB', cell: (r) => String(r.rssMb) },
  { head: 'JS heap MB', cell: (r) => String(r.heapMb) },
  { head: 'lake MB', cell: (r) => mb(r.lakeBytes) },
  { head: 'of it history MB', cell: (r) => mb(r.changeHistoryBytes) },
  { head: 'awaiting retention MB', cell: (r) => mb(r.awaitingRetentionBytes) },
  { head: 'warehouse MB', cell: (r) => mb(r.warehouseBytes) },
  { head: 'events landed', cell: (r) => String(r.eventsLanded) },
  { head: 'failed runs', cell: (r) => String(r.failedRuns) },
  { head: 'day wall s', cell: (r) => r.wallSeconds.toFixed(1) },
]

/**
 * Results on stdout as a Markdown table, a row per simulated day (pasteable into docs/benchmarks.md).
 * On a terminal a live line shows the day in progress and is replaced by the row; on a pipe only rows.
 */
export class SoakReport {
  private readonly tty = process.stdout.isTTY === true
  private live = false

  header(): void {
    this.line(`| ${columns.map((c) => c.head).join(' | ')} |`)
    this.line(`|${columns.map((_, i) => (i === 0 ? '---:' : '---:')).join('|')}|`)
  }

  progress(text: string): void {
    if (!this.tty) return
    process.stdout.write(`\r\x1b[2K${text}`)
    this.live = true
  }

  row(row: DayRow): void {
    this.line(`| ${columns.map((c) => c.cell(row)).join(' | ')} |`)
  }

  line(text: string): void {
    if (this.live) process.stdout.write('\r\x1b[2K')
    this.live = false
    process.stdout.write(`${text}\n`)
  }
}

export interface Verdict {
  lines: string[]
  met: boolean
}

/** Least-squares slope of (day, value) points; 0 for fewer than two. */
function slope(points: [number, number][]): number {
  if (points.length < 2) return 0
  const n = points.length
  const mx = points.reduce((a, [x]) => a + x, 0) / n
  const my = points.reduce((a, [, y]) => a + y, 0) / n
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0)
  return sxx === 0 ? 0 : points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0) / sxx
}

/**
 * Median of a metric over three days around `day` (the base day in the middle, the last day with the two
 * before it): one noisy moment on a shared machine does not decide, and day 1, when the lake is hours old,
 * does not stand in for day 3.
 */
function windowed(rows: DayRow[], day: number, pick: (r: DayRow) => number | number[], last: number): number {
  const to = Math.min(day + 1, last)
  return median(rows.filter((r) => r.day <= to && r.day > to - 3).flatMap(pick))
}

/**
 * The targets: log open, small-change publish and RSS at the last day within 1.2x of the base day
 * (each the median of a three-day window, so days 28-30 against days 2-4 for a month), and active files
 * and lake bytes bounded: their growth over the last third of the run, continued for as many days again,
 * adds at most 20%, which a quantity that grows with history (linearly) cannot meet. Job run records are
 * bounded by a count per job that a month does not reach for daily jobs: they are checked against that cap
 * instead. The lake keeps every row version by contract
 * (change events, incremental export runs), so the bytes judged are those beside that history and beside
 * the removed files retention has not reached yet (the previous compaction output of a history table is a
 * copy of it, up to smallFileBytes); all bytes, the history and those files are shown as well.
 */
export function verdict(rows: DayRow[], baseDay: number): Verdict {
  const last = rows.at(-1)!
  const base = rows.find((r) => r.day === baseDay) ?? rows[0]!
  const lines = ['', `| measure | day ${base.day} | day ${last.day} | ratio | target | met |`, '|---|---:|---:|---:|---|---|']
  let met = true
  const ratio = (name: string, pick: (r: DayRow) => number | number[], unit: string, judged = true): void => {
    const a = windowed(rows, base.day, pick, last.day)
    const b = windowed(rows, last.day, pick, last.day)
    const r = b / a
    const ok = r <= 1.2
    if (judged) met &&= ok
    const target = judged ? '≤ 1.2' : 'none (informative)'
    lines.push(`| ${name} (median over 3 days) | ${a.toFixed(1)} ${unit} | ${b.toFixed(1)} ${unit} | ${r.toFixed(2)} | ${target} | ${judged ? (ok ? 'yes' : '**no**') : '—'} |`)
  }
  // Log open and status pool the window's hourly samples (72): three days cover about two checkpoint cycles,
  // where each day alone covers part of one (the commits read after the checkpoint decide most of an open).
  ratio('CommitLog open', (r) => r.logOpenSamples, 'ms')
  ratio('small-change publish', (r) => r.publishMs, 'ms')
  ratio('RSS', (r) => r.rssMb, 'MB')
  // The issue sets no target for status; shown so growth there is seen.
  ratio('status', (r) => r.statusSamples, 'ms', false)
  // Bounded: growth that has stopped, not a value below a line. The slope over the last third of the run
  // (least squares, so alternating days do not decide) is projected over as many days again; a quantity
  // that grows with history (linearly from zero) doubles, one held by a cap or by retention stays put.
  const from = Math.floor((last.day * 2) / 3) + 1
  const tail = rows.filter((r) => r.day >= from)
  lines.push('', `| measure | day ${last.day} | growth per day, days ${from}–${last.day} | day ${2 * last.day} at that rate | ratio | target | met |`, '|---|---:|---:|---:|---:|---|---|')
  const bounded = (name: string, pick: (r: DayRow) => number, show: (v: number) => string, judged = true): void => {
    const perDay = slope(tail.map((r) => [r.day, pick(r)]))
    const end = pick(last)
    const projected = end + Math.max(0, perDay) * last.day
    const r = end > 0 ? projected / end : 1
    const ok = r <= 1.2
    if (judged) met &&= ok
    const target = judged ? 'bounded (≤ 1.2)' : 'none (informative)'
    lines.push(`| ${name} | ${show(end)} | ${show(perDay)} | ${show(projected)} | ${r.toFixed(2)} | ${target} | ${judged ? (ok ? 'yes' : '**no**') : '—'} |`)
  }
  bounded('active lake files', (r) => r.activeFiles, (v) => (Number.isInteger(v) ? String(v) : v.toFixed(1)))
  bounded('lake bytes beside the history, files awaiting retention and job run records', (r) => r.lakeBytes - r.changeHistoryBytes - r.awaitingRetentionBytes - r.runRecordBytes, (v) => `${mb(v)} MB`)
  bounded('job run records (count-bounded, below)', (r) => r.runRecordBytes, (v) => `${mb(v)} MB`, false)
  bounded('files awaiting retention', (r) => r.awaitingRetentionBytes, (v) => `${mb(v)} MB`, false)
  bounded('row-version history (kept by contract)', (r) => r.changeHistoryBytes, (v) => `${mb(v)} MB`, false)
  bounded('lake bytes, all', (r) => r.lakeBytes, (v) => `${mb(v)} MB`, false)
  // Run records are bounded by count, not time: checked against the cap itself.
  const maxRecords = Math.max(...rows.map((r) => r.maxRunRecordsPerJob))
  // Runs started in the same second as the last kept one cannot be ordered by name and are kept with it.
  const recordsOk = maxRecords <= jobsDefaults.historyKeepRuns + sameSecondRuns
  met &&= recordsOk
  const cap = jobsDefaults.historyKeepRuns
  lines.push(`| job run records, most held by one job (any day) | ${maxRecords} | — | cap ${cap} | ${(maxRecords / cap).toFixed(2)} | ≤ historyKeepRuns (+ ${sameSecondRuns} of the same second) | ${recordsOk ? 'yes' : '**no**'} |`)
  const dirs = [...new Set([...Object.keys(base.lakeBytesByDir), ...Object.keys(last.lakeBytesByDir)])].sort()
  const mb2 = (bytes: number): string => (bytes / 1024 / 1024).toFixed(2)
  lines.push('', `lake MB by folder, day ${base.day} → day ${last.day}: ${dirs.map((d) => `${d} ${mb2(base.lakeBytesByDir[d] ?? 0)} → ${mb2(last.lakeBytesByDir[d] ?? 0)}`).join(', ')}; row-version history (active files of change tables and incremental exports) ${mb2(base.changeHistoryBytes)} → ${mb2(last.changeHistoryBytes)}`)
  return { lines, met }
}
