import { timingSafeEqual } from 'node:crypto'
import { ColdpipeError } from '../core/errors.ts'
import type { ApiKeyConfig } from './api-config.ts'

export interface Caller {
  /** The key's name, or `anonymous` when no keys are configured. */
  name: string
  reports: string[]
  sql: boolean
  jobs: boolean
  /** The rate limit bucket: one per key, one per client address when anonymous. */
  bucket: string
}

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a)
  const right = Buffer.from(b)
  return left.length === right.length && timingSafeEqual(left, right)
}

/** API keys from config. With no keys configured, reports are open and ad-hoc SQL and jobs are off. */
export class AccessControl {
  constructor(private readonly keys: ApiKeyConfig[]) {}

  get open(): boolean {
    return this.keys.length === 0
  }

  identify(headerValue: string | string[] | undefined, clientAddress: string): Caller {
    if (this.open) return { name: 'anonymous', reports: ['*'], sql: false, jobs: false, bucket: `ip:${clientAddress}` }
    const given = Array.isArray(headerValue) ? headerValue[0] : headerValue
    if (!given) throw new ColdpipeError('AUTH_REQUIRED', 'this API needs an API key in the X-Api-Key header')
    const key = this.keys.find((candidate) => sameSecret(candidate.key, given))
    if (!key) throw new ColdpipeError('AUTH_REQUIRED', 'the API key in X-Api-Key is not valid')
    return { name: key.name, reports: key.reports, sql: key.sql, jobs: key.jobs, bucket: `key:${key.name}` }
  }

  canRunReport(caller: Caller, report: string): boolean {
    return caller.reports.includes('*') || caller.reports.includes(report)
  }

  assertReport(caller: Caller, report: string): void {
    if (!this.canRunReport(caller, report)) {
      throw new ColdpipeError('AUTH_FORBIDDEN', `API key "${caller.name}" may not run report ${report}`, { context: { report, key: caller.name } })
    }
  }
}

/** Token bucket per caller: `perMinute` tokens, refilled continuously; an empty bucket answers RATE_LIMITED. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>()

  constructor(private readonly perMinute: number) {}

  take(bucket: string, now = Date.now()): void {
    const ratePerMs = this.perMinute / 60_000
    const state = this.buckets.get(bucket) ?? { tokens: this.perMinute, at: now }
    state.tokens = Math.min(this.perMinute, state.tokens + (now - state.at) * ratePerMs)
    state.at = now
    if (state.tokens < 1) {
      this.buckets.set(bucket, state)
      const retryAfterSeconds = Math.max(1, Math.ceil((1 - state.tokens) / ratePerMs / 1000))
      throw new ColdpipeError('RATE_LIMITED', `rate limit of ${this.perMinute} requests per minute reached; retry in ${retryAfterSeconds} s`, {
        context: { retryAfterSeconds, limitPerMinute: this.perMinute },
      })
    }
    state.tokens -= 1
    this.buckets.set(bucket, state)
    // Full buckets carry no information; dropping them keeps the map bounded by active callers.
    if (this.buckets.size > 10_000) {
      for (const [key, value] of this.buckets) if (value.tokens >= this.perMinute - 1) this.buckets.delete(key)
    }
  }
}
