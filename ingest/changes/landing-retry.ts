import { ColdpipeError, messageOf } from '../../core/errors.ts'

export interface LandingRetryPolicy {
  /** Tries of a retryable failure before giving up (a full disk is tried until `shouldStop` says so). */
  attempts: number
  maxDelayMs: number
  /** Checked after each failure: true ends the retries (shutting down, or ingest already failed). */
  shouldStop(): boolean
  /** Whether a full disk should still give up after `attempts` (while shutting down: the records stay in Kafka). */
  giveUpOnDiskFull(): boolean
}

export interface LandingFailure {
  error: unknown
  code: string
  message: string
  context: Record<string, unknown>
  attempt: number
  /** The wait before the next try, or undefined when this failure is final. */
  retryInMs: number | undefined
}

/**
 * Runs one landing with retries and backoff (400 ms doubling up to `maxDelayMs`). A full lake volume
 * (LAKE_DISK_FULL) is waited out rather than counted against `attempts`: the batch lands once space is
 * freed, without a restart. `onFailure` sees every failed try (for logs, metrics and the blocked state).
 */
export async function retryLanding<T>(work: () => Promise<T>, policy: LandingRetryPolicy, onFailure: (failure: LandingFailure) => void): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work()
    } catch (error) {
      const coded = error instanceof ColdpipeError ? error : undefined
      const code = coded?.code ?? 'INTERNAL'
      const diskFull = code === 'LAKE_DISK_FULL'
      const canRetry = coded === undefined || coded.canRetry
      const final = !canRetry || policy.shouldStop() || (attempt >= policy.attempts && (!diskFull || policy.giveUpOnDiskFull()))
      const retryInMs = final ? undefined : Math.min(policy.maxDelayMs, 200 * 2 ** attempt)
      onFailure({ error, code, message: messageOf(error), context: coded?.context ?? {}, attempt, retryInMs })
      if (retryInMs === undefined) throw error
      await new Promise((resolve) => setTimeout(resolve, retryInMs))
    }
  }
}
