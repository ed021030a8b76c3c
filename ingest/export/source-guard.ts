import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  ExponentialBackoff,
  circuitBreaker,
  halfJitterGenerator,
  handleWhen,
  retry,
  wrap,
  type IPolicy,
} from 'cockatiel'
import { ColdpipeError, isColdpipeError, messageOf } from '../../core/errors.ts'
import { silentLogger, type Logger } from '../../core/logger.ts'
import { LakeLayout, writeFileAtomic } from '../../lake/index.ts'

/** Breaker state of one source, as the status screen shows it. */
export interface SourceHealth {
  source: string
  state: 'closed' | 'open' | 'half-open' | 'isolated'
  /** When the breaker last opened, ISO. */
  openedAt?: string
  lastError?: { code: string; message: string; at: string }
  consecutiveFailures?: number
}

/** Anything that can report per-source breaker state: the source guard, or the exporter. */
export interface SourceHealthProvider {
  getSourceHealth(): SourceHealth[] | Promise<SourceHealth[]>
}

/** The per-source resilience settings of `sources.<name>` in config (export-config.ts). */
export interface SourceGuardSettings {
  retryMaxAttempts: number
  retryInitialDelayMs: number
  retryMaxDelayMs: number
  breakerFailureThreshold: number
  breakerHalfOpenAfterMs: number
}

export interface SourceGuardOptions {
  sources: Record<string, SourceGuardSettings>
  logger?: Logger
  /** With a lake, breaker state changes are written to `<lake>/_state/health/<source>.json` for `coldpipe status`. */
  lakeRoot?: string
}

/**
 * Retry + circuit breaker per source, shared by everything that talks to a source database (the exporter's
 * connections, jobs' probes). Retries wrap the breaker, so each attempt counts towards opening it; while
 * open, calls fail at once with SOURCE_CIRCUIT_OPEN (not retried) until the half-open probe succeeds.
 * A source's breaker never affects another source.
 */
export class SourceGuard implements SourceHealthProvider {
  private readonly entries = new Map<string, { policy: IPolicy; health: SourceHealth }>()
  private readonly logger: Logger
  private writes: Promise<unknown> = Promise.resolve()

  constructor(private readonly options: SourceGuardOptions) {
    this.logger = options.logger ?? silentLogger
    for (const [source, settings] of Object.entries(options.sources)) this.entries.set(source, this.build(source, settings))
  }

  private build(source: string, settings: SourceGuardSettings): { policy: IPolicy; health: SourceHealth } {
    const health: SourceHealth = { source, state: 'closed', consecutiveFailures: 0 }
    const breaker = circuitBreaker(
      handleWhen((error) => !isColdpipeError(error) || error.canRetry),
      { halfOpenAfter: settings.breakerHalfOpenAfterMs, breaker: new ConsecutiveBreaker(settings.breakerFailureThreshold) },
    )
    breaker.onFailure((event) => {
      health.consecutiveFailures = (health.consecutiveFailures ?? 0) + 1
      const reason = event.reason as { error?: unknown; value?: unknown }
      const error = 'error' in reason ? reason.error : reason.value
      health.lastError = { code: isColdpipeError(error) ? error.code : 'SOURCE_CONNECT_FAILED', message: messageOf(error), at: new Date().toISOString() }
    })
    breaker.onSuccess(() => {
      health.consecutiveFailures = 0
    })
    breaker.onStateChange((state) => {
      health.state = stateName(state)
      if (state === CircuitState.Open) health.openedAt = new Date().toISOString()
      if (state === CircuitState.Closed) delete health.openedAt
      const log = state === CircuitState.Open ? this.logger.error.bind(this.logger) : this.logger.info.bind(this.logger)
      log({ source, breaker: health.state, lastError: health.lastError }, `circuit breaker of source ${source} is ${health.state}`)
      this.persist(health)
    })
    const retries = retry(
      handleWhen((error) => !(error instanceof BrokenCircuitError) && (!isColdpipeError(error) || error.canRetry)),
      {
        maxAttempts: settings.retryMaxAttempts,
        backoff: new ExponentialBackoff({ initialDelay: settings.retryInitialDelayMs, maxDelay: settings.retryMaxDelayMs, generator: halfJitterGenerator }),
      },
    )
    retries.onRetry((event) => {
      const error = 'error' in event ? event.error : undefined
      this.logger.warn({ source, attempt: event.attempt, delayMs: event.delay, err: error ? messageOf(error) : undefined }, `source ${source} attempt failed, retrying`)
    })
    return { policy: wrap(retries, breaker), health }
  }

  /** Runs `work` against `source` under its retry and breaker. */
  async execute<T>(source: string, work: (context: { signal: AbortSignal; attempt: number }) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const entry = this.entries.get(source)
    if (!entry) throw new ColdpipeError('SOURCE_UNKNOWN', `source ${source} is not under sources in the config`, { context: { source } })
    try {
      return await entry.policy.execute((ctx) => work({ signal: ctx.signal, attempt: ((ctx as { attempt?: number }).attempt ?? 0) + 1 }), signal)
    } catch (error) {
      if (error instanceof BrokenCircuitError) {
        throw new ColdpipeError('SOURCE_CIRCUIT_OPEN', `source ${source} is failing; its circuit breaker is open (last error: ${entry.health.lastError?.message ?? 'unknown'})`, {
          cause: error,
          context: { source, openedAt: entry.health.openedAt },
        })
      }
      throw error
    }
  }

  getSourceHealth(): SourceHealth[] {
    return [...this.entries.values()].map((e) => ({ ...e.health }))
  }

  private persist(health: SourceHealth): void {
    const lakeRoot = this.options.lakeRoot
    if (!lakeRoot) return
    const layout = new LakeLayout(lakeRoot)
    const snapshot = { ...health, updatedAt: new Date().toISOString() }
    this.writes = this.writes
      .then(() => writeFileAtomic(layout.tmpDir, layout.healthFile(health.source), JSON.stringify(snapshot, null, 2)))
      .catch((error: unknown) => this.logger.warn({ err: messageOf(error) }, 'could not record source health in the lake'))
  }

  /** Waits for pending health records to be written. */
  async close(): Promise<void> {
    await this.writes
  }
}

function stateName(state: CircuitState): SourceHealth['state'] {
  switch (state) {
    case CircuitState.Open:
      return 'open'
    case CircuitState.HalfOpen:
      return 'half-open'
    case CircuitState.Isolated:
      return 'isolated'
    default:
      return 'closed'
  }
}

/** Breaker states a running coldpipe process recorded in the lake, for status from another process. */
export async function readRecordedSourceHealth(lakeRoot: string): Promise<(SourceHealth & { updatedAt?: string })[]> {
  const dir = new LakeLayout(lakeRoot).healthDir
  const names = await readdir(dir).catch(() => [] as string[])
  const out: (SourceHealth & { updatedAt?: string })[] = []
  for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
    try {
      out.push(JSON.parse(await readFile(join(dir, name), 'utf8')))
    } catch {
      // A half-removed lake; the rest still tells something.
    }
  }
  return out
}
