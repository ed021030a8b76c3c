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

/** Most buckets kept at once; beyond it the least recently used go first, so memory stays bounded under floods of addresses. */
export const maxRateLimitBuckets = 10_000

/** Token bucket per caller: `perMinute` tokens, refilled continuously; an empty bucket answers RATE_LIMITED. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>()

  constructor(
    private readonly perMinute: number,
    private readonly maxBuckets = maxRateLimitBuckets,
  ) {}

  get size(): number {
    return this.buckets.size
  }

  take(bucket: string, now = Date.now()): void {
    const ratePerMs = this.perMinute / 60_000
    const state = this.buckets.get(bucket) ?? { tokens: this.perMinute, at: now }
    state.tokens = Math.min(this.perMinute, state.tokens + (now - state.at) * ratePerMs)
    state.at = now
    // Re-inserting keeps the map in least-recently-used order for eviction.
    this.buckets.delete(bucket)
    this.evict()
    this.buckets.set(bucket, state)
    if (state.tokens < 1) {
      const retryAfterSeconds = Math.max(1, Math.ceil((1 - state.tokens) / ratePerMs / 1000))
      throw new ColdpipeError('RATE_LIMITED', `rate limit of ${this.perMinute} requests per minute reached; retry in ${retryAfterSeconds} s`, {
        context: { retryAfterSeconds, limitPerMinute: this.perMinute },
      })
    }
    state.tokens -= 1
  }

  private evict(): void {
    if (this.buckets.size < this.maxBuckets) return
    // Full buckets carry no information: drop them first, then the least recently used.
    for (const [key, value] of this.buckets) if (value.tokens >= this.perMinute - 1) this.buckets.delete(key)
    // Down to 90%, so a flood of new addresses pays for a sweep once per thousand requests, not on each one.
    const target = Math.floor(this.maxBuckets * 0.9) - 1
    for (const key of this.buckets.keys()) {
      if (this.buckets.size <= target) break
      this.buckets.delete(key)
    }
  }
}

/**
 * Identifies the caller and spends one token of its rate limit. A request without a valid key spends a token
 * of its client address's bucket before it is refused, so guessing keys or flooding with bad ones ends in
 * 429 RATE_LIMITED like any other caller, not in an endless stream of 401s.
 */
export function admitCaller(access: AccessControl, rateLimiter: RateLimiter, headerValue: string | string[] | undefined, clientAddress: string): Caller {
  let caller: Caller
  try {
    caller = access.identify(headerValue, clientAddress)
  } catch (error) {
    rateLimiter.take(`unauthenticated:${clientAddress}`)
    throw error
  }
  rateLimiter.take(caller.bucket)
  return caller
}
