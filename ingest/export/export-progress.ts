import type { Logger } from '../../core/logger.ts'

const logEveryMs = 2_000

/**
 * Rows done of the source's estimate, and rows/s: a progress line on stderr when it is a TTY, periodic
 * pino records (with the runId) otherwise.
 */
export class ExportProgress {
  private rows = 0
  private chunks = 0
  private readonly started = Date.now()
  private lastReport = Date.now()
  private readonly tty = process.stderr.isTTY === true

  constructor(
    private readonly logger: Logger,
    private readonly what: { runId: string; source: string; table: string; estimatedRows: number },
  ) {}

  add(rows: number): void {
    this.rows += rows
    const now = Date.now()
    if (now - this.lastReport >= (this.tty ? 250 : logEveryMs)) {
      this.lastReport = now
      this.report(false)
    }
  }

  chunkWritten(): void {
    this.chunks++
    this.logger.debug({ ...this.what, rows: this.rows, chunks: this.chunks }, 'export chunk written')
  }

  private report(final: boolean): void {
    const seconds = Math.max(0.001, (Date.now() - this.started) / 1000)
    const rate = Math.round(this.rows / seconds)
    const estimate = Math.max(this.what.estimatedRows, this.rows)
    if (this.tty) {
      const pct = estimate > 0 ? ((100 * this.rows) / estimate).toFixed(1) : '100.0'
      process.stderr.write(`\r${this.what.source}.${this.what.table}: ${this.rows}/${estimate} rows (${pct}%) ${rate} rows/s${final ? '\n' : ''}`)
    } else {
      this.logger.info({ ...this.what, rows: this.rows, estimatedRows: estimate, rowsPerSecond: rate, chunks: this.chunks }, final ? 'export table read' : 'export progress')
    }
  }

  done(): void {
    this.report(true)
  }
}
