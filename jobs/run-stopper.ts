/**
 * How a run is stopped: its AbortSignal fires with the reason (deadline, shutdown, lost lock, stall), and if
 * the run has not ended `graceMs` later, `givenUp` resolves so the runner records it failed without it.
 */
export class RunStopper {
  readonly controller = new AbortController()
  readonly givenUp: Promise<void>
  private giveUp!: () => void
  private graceTimer: NodeJS.Timeout | undefined
  private deadlineTimer: NodeJS.Timeout | undefined
  private stopAt = Infinity
  private ended = false

  constructor() {
    this.givenUp = new Promise<void>((resolve) => (this.giveUp = resolve))
  }

  get signal(): AbortSignal {
    return this.controller.signal
  }

  stop(reason: unknown, graceMs: number): void {
    if (this.ended) return
    if (!this.controller.signal.aborted) this.controller.abort(reason)
    // A later stop with less grace (shutdown after a deadline) shortens the wait; never lengthens it.
    if (Date.now() + graceMs >= this.stopAt) return
    this.stopAt = Date.now() + graceMs
    clearTimeout(this.graceTimer)
    this.graceTimer = setTimeout(this.giveUp, graceMs)
  }

  /** Stops the run `ms` from now with the reason `onDeadline` gives, unless it ended before. */
  deadline(ms: number, graceMs: number, onDeadline: () => unknown): void {
    this.deadlineTimer = setTimeout(() => this.stop(onDeadline(), graceMs), ms)
    // Unref'd: a CLI run waiting on nothing else must reach the runner's idle check, not idle to its deadline.
    this.deadlineTimer.unref()
  }

  end(): void {
    this.ended = true
    clearTimeout(this.graceTimer)
    clearTimeout(this.deadlineTimer)
  }
}
