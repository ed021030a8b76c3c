import { ColdpipeError, type ErrorCode } from '../core/errors.ts'

export interface QueryLimiterOptions {
  /** Name in stats, logs and metrics: `reports` or `sql`. */
  name: string
  maxRunning: number
  maxQueued: number
  /** Budget of one piece of work from the moment it asks for a slot: queue wait + run. */
  deadlineMs: number
  /** Code of the error thrown when the budget runs out while still queued. */
  timeoutCode: ErrorCode
  onShed?: () => void
  retryAfterSeconds?: number
}

export interface RunOptions {
  /** Aborting (e.g. the client went away) takes a queued request out of the queue at once. */
  signal?: AbortSignal
  /** An earlier deadline than the limiter's own, e.g. one counted from the request's arrival. */
  deadline?: number
}

export interface LimiterStats {
  running: number
  queued: number
  shed: number
  timedOutInQueue: number
}

interface Waiter {
  start: () => void
}

/**
 * At most `maxRunning` queries at once and at most `maxQueued` waiting; past that, new work is refused with
 * OVERLOADED at once (load shedding). Every piece of work has a deadline covering its queue wait, so a full
 * queue can never make a request answer later than its timeout: it gives up with `timeoutCode` instead.
 */
export class QueryLimiter {
  private running = 0
  private shed = 0
  private timedOutInQueue = 0
  private readonly waiting: Waiter[] = []

  constructor(private readonly options: QueryLimiterOptions) {}

  get name(): string {
    return this.options.name
  }

  get deadlineMs(): number {
    return this.options.deadlineMs
  }

  get stats(): LimiterStats {
    return { running: this.running, queued: this.waiting.length, shed: this.shed, timedOutInQueue: this.timedOutInQueue }
  }

  /**
   * Runs `fn` in a slot; it gets the slot's deadline (epoch ms, queue wait counted) to cap its own timers by,
   * e.g. lease.query's. Passed explicitly, not through an AsyncLocalStorage: once one is used, Node's promise
   * hooks run on every promise in the process (a fifth of a cached report's CPU).
   */
  async run<T>(fn: (deadline: number) => Promise<T>, runOptions: RunOptions = {}): Promise<T> {
    const deadline = Math.min(runOptions.deadline ?? Infinity, Date.now() + this.options.deadlineMs)
    runOptions.signal?.throwIfAborted()
    if (this.running >= this.options.maxRunning) {
      if (this.waiting.length >= this.options.maxQueued) {
        this.shed++
        this.options.onShed?.()
        throw new ColdpipeError('OVERLOADED', `too many ${this.options.name} queries: ${this.running} running and ${this.waiting.length} waiting; retry shortly`, {
          context: { pool: this.options.name, running: this.running, queued: this.waiting.length, retryAfterSeconds: this.options.retryAfterSeconds ?? 1 },
        })
      }
      await this.wait(deadline, runOptions.signal)
    } else {
      this.running++
    }
    try {
      if (Date.now() >= deadline) throw this.timeoutError(deadline)
      return await fn(deadline)
    } finally {
      const next = this.waiting.shift()
      // The slot passes straight to the next waiter, so `running` never dips and lets a newcomer jump the queue.
      if (next) next.start()
      else this.running--
    }
  }

  private timeoutError(deadline: number): ColdpipeError {
    const budget = this.options.deadlineMs
    return new ColdpipeError(this.options.timeoutCode, `no ${this.options.name} query slot became free within the ${budget} ms budget (queue wait counts); retry shortly`, {
      context: { pool: this.options.name, timeoutMs: budget, waitedMs: Math.max(0, budget - Math.max(0, deadline - Date.now())) },
    })
  }

  private wait(deadline: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const leave = (): boolean => {
        const index = this.waiting.indexOf(waiter)
        if (index < 0) return false
        this.waiting.splice(index, 1)
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        return true
      }
      const waiter: Waiter = {
        start: () => {
          clearTimeout(timer)
          signal?.removeEventListener('abort', onAbort)
          resolve()
        },
      }
      const timer = setTimeout(() => {
        if (!leave()) return
        this.timedOutInQueue++
        reject(this.timeoutError(deadline))
      }, Math.max(0, deadline - Date.now()))
      const onAbort = (): void => {
        if (leave()) reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'))
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waiting.push(waiter)
    })
  }
}
