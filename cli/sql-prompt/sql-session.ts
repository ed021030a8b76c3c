import { once } from 'node:events'
import { performance } from 'node:perf_hooks'
import type { Database } from '../../core/duckdb/index.ts'
import { runStatements } from '../../warehouse/run-sql.ts'
import { dotCommand, type SessionSettings } from './dot-commands.ts'
import { exceedsScreen, page } from './pager.ts'
import { renderResult } from './render-result.ts'

/** Where results go: a terminal (tables fitted to its width, long output paged) or a pipe (streamed as is). */
export interface Screen {
  terminal: boolean
  columns(): number
  rows(): number
  /** Hands the terminal to a pager: stops reading keys until the returned function is called. */
  suspend?: () => () => void
}

export const terminalScreen = (): Screen => ({
  terminal: process.stdout.isTTY === true,
  columns: () => process.stdout.columns || 80,
  rows: () => process.stdout.rows || 24,
})

/** Writes to stdout, waiting when the pipe is full so a large csv never piles up in memory. */
async function writeOut(text: string): Promise<void> {
  if (text !== '' && !process.stdout.write(text)) await once(process.stdout, 'drain')
}

/**
 * One `coldpipe sql` session, fed line by line by `-c` or the prompt: dot commands at the start of an entry,
 * SQL collected until a line ends with `;` (or the input ends) and run statement by statement, each result
 * written when its statement is done.
 */
export class SqlSession {
  private buffer = ''
  /** The statements running now, settled (never rejecting) when they end. */
  private running: Promise<void> | undefined

  constructor(
    private readonly db: Database,
    readonly settings: SessionSettings,
    private readonly screen: Screen,
  ) {}

  /** Whether part of a statement was entered but not yet run (the prompt shows `...>`). */
  get pending(): boolean {
    return this.buffer !== ''
  }

  clearPending(): void {
    this.buffer = ''
  }

  /** Takes one input line; returns 'quit' for `.quit`/`.exit`. Failures reject (coded errors). */
  async feed(line: string): Promise<'quit' | undefined> {
    const trimmed = line.trim()
    if (this.buffer === '' && trimmed.startsWith('.')) return this.dot(trimmed)
    if (this.buffer === '' && trimmed === '') return undefined
    this.buffer += `${line}\n`
    if (trimmed.endsWith(';')) await this.runPending()
    return undefined
  }

  /** Runs what is left without a closing `;` (the end of `-c` input). */
  async finish(): Promise<void> {
    if (this.buffer.trim() !== '') await this.runPending()
    this.buffer = ''
  }

  private async runPending(): Promise<void> {
    const sql = this.buffer
    this.buffer = ''
    await this.run(sql)
  }

  private async dot(line: string): Promise<'quit' | undefined> {
    const action = dotCommand(line, this.settings)
    if (action.kind === 'quit') return 'quit'
    if (action.kind === 'sql') await this.run(action.sql)
    else await this.show(action.text)
    return undefined
  }

  /**
   * Interrupts what runs and waits (at most `graceMs`) for it to end. The database must not be closed under a
   * running statement: DuckDB would then keep the process from exiting.
   */
  async stop(graceMs: number): Promise<boolean> {
    if (!this.running) return true
    // DuckDB forgets an interrupt when a statement starts: repeated, it also stops one still being prepared.
    this.db.interrupt()
    const repeat = setInterval(() => this.db.interrupt(), 50)
    let timer: NodeJS.Timeout | undefined
    const ended = await Promise.race([this.running.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(resolve, graceMs, false)))])
    clearInterval(repeat)
    clearTimeout(timer)
    return ended
  }

  async run(sql: string): Promise<void> {
    const work = this.execute(sql)
    this.running = work.then(
      () => undefined,
      () => undefined,
    )
    try {
      await work
    } finally {
      this.running = undefined
    }
  }

  private async execute(sql: string): Promise<void> {
    let started = performance.now()
    await runStatements(this.db, sql, async (stream) => {
      let text = ''
      // A terminal's output is collected per statement (capped by .maxrows) to decide on the pager; a pipe's streams.
      const write = this.screen.terminal ? (chunk: string) => void (text += chunk) : writeOut
      const width = this.screen.terminal ? this.screen.columns() : Infinity
      await renderResult(stream, { mode: this.settings.mode, maxRows: this.settings.maxRows, width }, write)
      if (this.settings.timer) await write(`Run Time: ${((performance.now() - started) / 1000).toFixed(3)} s\n`)
      if (this.screen.terminal) await this.show(text)
      started = performance.now()
    })
  }

  private async show(text: string): Promise<void> {
    if (this.screen.terminal && this.settings.pager && exceedsScreen(text, this.screen.columns(), this.screen.rows())) {
      const resume = this.screen.suspend?.()
      try {
        if (await page(text)) return
      } finally {
        resume?.()
      }
    }
    await writeOut(text)
  }
}
