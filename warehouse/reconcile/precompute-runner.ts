import { messageOf } from '../../core/errors.ts'
import { silentLogger, type Logger } from '../../core/logger.ts'
import { precomputeWarehouseSide, type PrecomputeOptions, type PrecomputeRun } from './warehouse-precompute.ts'

/**
 * Runs the warehouse-side precompute in the background after publishes: never more than one at a time, a publish
 * during a run asks for one more run afterwards (of the then current snapshot) rather than a second concurrent
 * one, and `close()` interrupts the running one (DuckDB's statement) and waits for it. Failures are logged, never
 * thrown: the next reconciliation computes its side itself.
 */
export class PrecomputeRunner {
  private running: Promise<void> | undefined
  private again = false
  private readonly abort = new AbortController()
  private lastRun: PrecomputeRun | undefined

  constructor(
    private readonly options: Omit<PrecomputeOptions, 'signal'>,
    private readonly logger: Logger = options.logger ?? silentLogger,
  ) {}

  /** After a publish: starts a run now, or once the running one ends. Returns at once. */
  trigger(): void {
    if (this.abort.signal.aborted) return
    if (this.running) {
      this.again = true
      return
    }
    this.running = this.loop().finally(() => {
      this.running = undefined
    })
  }

  /** Resolves when no run is in flight (tests, the bench, a CLI waiting before it exits). */
  async idle(): Promise<PrecomputeRun | undefined> {
    while (this.running) await this.running
    return this.lastRun
  }

  async close(): Promise<void> {
    this.abort.abort(new Error('the process is shutting down'))
    await this.idle()
  }

  private async loop(): Promise<void> {
    do {
      this.again = false
      try {
        this.lastRun = await precomputeWarehouseSide({ ...this.options, signal: this.abort.signal })
      } catch (error) {
        if (this.abort.signal.aborted) return
        this.logger.warn({ err: error }, `reconcile precompute failed: ${messageOf(error)}`)
      }
    } while (this.again && !this.abort.signal.aborted)
  }
}
