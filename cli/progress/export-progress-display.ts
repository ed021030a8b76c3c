import type { ExportProgressEvent } from '../../ingest/export/index.ts'
import { formatCount, formatDuration } from './human-units.ts'

export interface ProgressOutput {
  write(text: string): unknown
  isTTY?: boolean
  columns?: number
}

/** Plain lines on a pipe come at most this often per table (and once when it ends). */
const pipeEveryMs = 5_000

/** `shop.items  1.25M / ~2.00M rows  62%  410k rows/s  ETA 2s` — the estimate is the planner's, hence `~`. */
export function progressLine(e: ExportProgressEvent): string {
  const name = `${e.source}.${e.table}`
  if (e.done) return `${name}  ${formatCount(e.rows)} rows in ${formatDuration(e.elapsedMs)} (${formatCount(e.rowsPerSecond)} rows/s)`
  const estimate = e.estimatedRows > 0 ? ` / ~${formatCount(e.estimatedRows)}` : ''
  const pct = e.estimatedRows > 0 ? `  ${Math.min(99, Math.floor((100 * e.rows) / e.estimatedRows))}%` : ''
  const remaining = e.estimatedRows - e.rows
  const eta = e.rowsPerSecond > 0 && remaining > 0 ? `  ETA ${formatDuration((1000 * remaining) / e.rowsPerSecond)}` : ''
  return `${name}  ${formatCount(e.rows)}${estimate} rows${pct}  ${formatCount(e.rowsPerSecond)} rows/s${eta}`
}

/**
 * Progress of the tables being exported, for a person. On a terminal: a live line per running table,
 * redrawn in place, and a permanent summary line when a table ends. On a pipe: plain lines, at most every
 * few seconds per table, and the summary line. Written to stderr: stdout carries the command's result.
 */
export class ExportProgressDisplay {
  private readonly live = new Map<string, ExportProgressEvent>()
  private readonly lastPlain = new Map<string, number>()
  private drawnLines = 0
  private timer: NodeJS.Timeout | undefined

  constructor(private readonly out: ProgressOutput, private readonly now: () => number = Date.now) {}

  private get tty(): boolean {
    return this.out.isTTY === true
  }

  readonly update = (event: ExportProgressEvent): void => {
    const key = `${event.source}.${event.table}`
    if (!this.tty) {
      const last = this.lastPlain.get(key)
      if (event.done) {
        this.lastPlain.delete(key)
        this.out.write(`${progressLine(event)}\n`)
      } else if (last === undefined ? event.rows > 0 : this.now() - last >= pipeEveryMs) {
        this.lastPlain.set(key, this.now())
        this.out.write(`${progressLine(event)}\n`)
      }
      return
    }
    if (event.done) {
      this.live.delete(key)
      this.redraw(`${progressLine(event)}\n`)
      return
    }
    this.live.set(key, event)
    // Redraws are batched: a table reports about 5 times a second, the terminal is redrawn at most 10.
    this.timer ??= setTimeout(() => {
      this.timer = undefined
      this.redraw('')
    }, 100)
  }

  /** Clears the live lines, writes `permanent` above them, and draws the live lines again. */
  private redraw(permanent: string): void {
    const width = Math.max(20, (this.out.columns ?? 100) - 1)
    let text = this.drawnLines > 0 ? `\x1b[${this.drawnLines}F\x1b[0J` : ''
    text += permanent
    const lines = [...this.live.values()].map((e) => progressLine(e).slice(0, width))
    for (const line of lines) text += `${line}\n`
    this.drawnLines = lines.length
    this.out.write(text)
  }

  /** Removes the live lines (the command's summary follows). */
  close(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    if (this.tty && this.drawnLines > 0) this.out.write(`\x1b[${this.drawnLines}F\x1b[0J`)
    this.drawnLines = 0
    this.live.clear()
  }
}
