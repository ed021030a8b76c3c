import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  ExponentialBackoff,
  circuitBreaker,
  handleWhen,
  retry,
  wrap,
  type IPolicy,
} from 'cockatiel'
import { ColdpipeError, isColdpipeError, messageOf } from '../../core/errors.ts'
import type { Logger } from '../../core/logger.ts'
import type { SourceConfig } from './export-config.ts'

export interface SourceHealth {
  source: string
  breaker: 'closed' | 'open' | 'half-open'
  lastError?: { code: string; message: string }
  lastFailureAt?: string
}

function retryable(error: Error): boolean {
  return isColdpipeError(error) ? error.canRetry : false
}

/**
 * Per-source resilience: retries with exponential backoff and jitter for connection failures, inside a
 * circuit breaker that counts each failed attempt, so a source that keeps failing is cut off on its own while
 * other sources go on.
 */
export class SourceGuard {
  private readonly policy: IPolicy
  private readonly breaker: ReturnType<typeof circuitBreaker>
  private lastError?: { code: string; message: string }
  private lastFailureAt?: string

  constructor(
    readonly source: string,
    config: SourceConfig,
    logger: Logger,
  ) {
    this.breaker = circuitBreaker(handleWhen(retryable), {
      halfOpenAfter: config.breakerHalfOpenAfterMs,
      breaker: new ConsecutiveBreaker(config.breakerFailureThreshold),
    })
    const retryPolicy = retry(handleWhen((error) => retryable(error) && !(error instanceof BrokenCircuitError)), {
      maxAttempts: config.retryMaxAttempts,
      backoff: new ExponentialBackoff({ initialDelay: config.retryInitialDelayMs, maxDelay: config.retryMaxDelayMs }),
    })
    retryPolicy.onRetry((event) => {
      const error = 'error' in event ? event.error : undefined
      logger.warn({ source, attempt: event.attempt, delayMs: event.delay, err: error ? messageOf(error) : undefined }, 'source attempt failed, retrying')
    })
    this.breaker.onBreak(() => logger.error({ source }, 'source circuit breaker opened'))
    this.breaker.onReset(() => logger.info({ source }, 'source circuit breaker closed'))
    this.policy = wrap(retryPolicy, this.breaker)
  }

  async execute<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await this.policy.execute(async () => {
        try {
          return await work()
        } catch (error) {
          // Every failed attempt is remembered, so the health view names the cause, not "circuit open".
          if (!(error instanceof BrokenCircuitError)) this.noteFailure(error)
          throw error
        }
      })
    } catch (error) {
      const coded =
        error instanceof BrokenCircuitError
          ? new ColdpipeError('SOURCE_CIRCUIT_OPEN', `source ${this.source}: circuit breaker is open after repeated failures${this.lastError ? ` (last: ${this.lastError.message})` : ''}`, {
              cause: error,
              context: { source: this.source },
            })
          : isColdpipeError(error)
            ? error
            : new ColdpipeError('EXPORT_FAILED', `source ${this.source}: ${messageOf(error)}`, { cause: error, context: { source: this.source } })
      throw coded
    }
  }

  private noteFailure(error: unknown): void {
    this.lastError = isColdpipeError(error) ? { code: error.code, message: error.message } : { code: 'EXPORT_FAILED', message: messageOf(error) }
    this.lastFailureAt = new Date().toISOString()
  }

  health(): SourceHealth {
    const state = this.breaker.state
    const breaker = state === CircuitState.Closed ? 'closed' : state === CircuitState.HalfOpen ? 'half-open' : 'open'
    return {
      source: this.source,
      breaker,
      ...(this.lastError ? { lastError: this.lastError } : {}),
      ...(this.lastFailureAt ? { lastFailureAt: this.lastFailureAt } : {}),
    }
  }
}
