import { writeSync } from 'node:fs'

/**
 * A log destination that gathers the lines written during one turn of the event loop and writes them to
 * `fd` with one write at the end of the turn (setImmediate), and at once at process exit. A busy server
 * logs a line per request; writing each on its own cost a write system call per request (about a fifth of
 * a cached report's CPU when stderr is a file). Lines keep their order and are never held past the turn
 * that wrote them, so nothing waits on a timer and an exit loses nothing (a SIGKILL loses at most that turn).
 */
export class TurnBatchedWriter {
  private pending: string[] = []
  private scheduled = false
  private readonly flushNow = (): void => this.flush()
  private lost = false

  /** `onLost`: the reader of `fd` went away (EPIPE); later lines are dropped, as nobody can read them. */
  constructor(private readonly fd: number, private readonly onLost: () => void = () => undefined) {
    process.once('exit', this.flushNow)
  }

  write(line: string): boolean {
    if (this.lost) return true
    this.pending.push(line)
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(this.flushNow)
    }
    return true
  }

  flush(): void {
    this.scheduled = false
    if (this.pending.length === 0) return
    const text = this.pending.length === 1 ? this.pending[0]! : this.pending.join('')
    this.pending = []
    try {
      writeAll(this.fd, text)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EPIPE') throw error
      this.lost = true
      this.onLost()
    }
  }
}

/** writeSync may write part of a large string (a pipe that is full): the rest follows. */
function writeAll(fd: number, text: string): void {
  let buffer = Buffer.from(text)
  while (buffer.length > 0) {
    try {
      const written = writeSync(fd, buffer)
      buffer = buffer.subarray(written)
    } catch (error) {
      // A non-blocking stderr that is full: wait for it rather than drop lines.
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error
    }
  }
}
