import { ColdpipeError } from '../core/errors.ts'

/**
 * At most `maxRunning` queries at once and at most `maxQueued` waiting; past that, new work is refused with
 * OVERLOADED at once (load shedding) instead of queueing without bound.
 */
export class QueryLimiter {
  private running = 0
  private readonly waiting: (() => void)[] = []

  constructor(
    private readonly maxRunning: number,
    private readonly maxQueued: number,
    private readonly onShed: () => void = () => {},
    private readonly retryAfterSeconds = 1,
  ) {}

  get stats(): { running: number; queued: number } {
    return { running: this.running, queued: this.waiting.length }
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.maxRunning) {
      if (this.waiting.length >= this.maxQueued) {
        this.onShed()
        throw new ColdpipeError('OVERLOADED', `too many queries: ${this.running} running and ${this.waiting.length} waiting; retry shortly`, {
          context: { running: this.running, queued: this.waiting.length, retryAfterSeconds: this.retryAfterSeconds },
        })
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve))
    } else {
      this.running++
    }
    try {
      return await fn()
    } finally {
      const next = this.waiting.shift()
      // The slot passes straight to the next waiter, so `running` never dips and lets a newcomer jump the queue.
      if (next) next()
      else this.running--
    }
  }
}
