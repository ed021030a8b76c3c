import type { Logger } from '../../core/logger.ts'

const logEveryMs = 2_000
const notifyEveryMs = 200

/** One table's progress as a display shows it; `done` once, when the table's read ends. */
export interface ExportProgressEvent {
  source: string
  table: string
  rows: number
  /** The source's row estimate when the read started (planner statistics), never below `rows`. */
  estimatedRows: number
  rowsPerSecond: number
  elapsedMs: number
  done: boolean
}

export type ExportProgressListener = (event: ExportProgressEvent) => void

/**
 * Rows read of the source's estimate, and rows/s: periodic pino records for the log, and events for
 * whoever shows progress to a person (the CLI draws them; a library never writes to the terminal).
 */
export class ExportProgress {
  private rows = 0
  private chunks = 0
  private readonly started = Date.now()
  private lastLog = Date.now()
  private lastNotify = 0

  constructor(
    private readonly logger: Logger,
    private readonly what: { source: string; table: string; estimatedRows: number },
    private readonly listener?: ExportProgressListener,
  ) {
    this.notify(false)
  }

  add(rows: number): void {
    this.rows += rows
    const now = Date.now()
    if (now - this.lastNotify >= notifyEveryMs) this.notify(false)
    if (now - this.lastLog >= logEveryMs) {
      this.lastLog = now
      this.log(false)
    }
  }

  chunkWritten(): void {
    this.chunks++
    this.logger.debug({ table: this.what.table, rows: this.rows, chunks: this.chunks }, 'export chunk written')
  }

  private event(done: boolean): ExportProgressEvent {
    const elapsedMs = Date.now() - this.started
    return {
      source: this.what.source,
      table: this.what.table,
      rows: this.rows,
      estimatedRows: Math.max(this.what.estimatedRows, this.rows),
      rowsPerSecond: Math.round(this.rows / Math.max(0.001, elapsedMs / 1000)),
      elapsedMs,
      done,
    }
  }

  private notify(done: boolean): void {
    this.lastNotify = Date.now()
    this.listener?.(this.event(done))
  }

  private log(final: boolean): void {
    const { rows, estimatedRows, rowsPerSecond } = this.event(final)
    this.logger.info({ table: this.what.table, rows, estimatedRows, rowsPerSecond, chunks: this.chunks }, final ? 'export table read' : 'export progress')
  }

  done(): void {
    this.notify(true)
    this.log(true)
  }
}
