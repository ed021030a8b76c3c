/** A cached, already-encoded report result. */
export interface CachedResult {
  body: Buffer
  contentType: string
  /** Values that go into the JSON envelope or headers and do not depend on request time. */
  meta: Record<string, unknown>
  /**
   * Derived once and reused by every hit (report-service.ts): the ETag of the entry's key, and the headers and
   * whole body (JSON: envelope + rows) last answered with, valid while the freshness lags they were built for
   * (`signature`) hold. A JSON entry's answered body is a second copy of `body` plus the envelope, so a JSON
   * entry counts twice against the cache's bytes (entryCost): the configured bytes bound the memory held.
   */
  memo?: { etag: string; signature?: string; headers?: Record<string, string>; body?: Buffer }
}

/** What an entry holds in memory: a JSON entry also keeps the answered body (envelope + a copy of the rows). */
function entryCost(key: string, value: CachedResult): number {
  const copies = value.contentType.startsWith('application/json') ? 2 : 1
  return value.body.byteLength * copies + key.length
}

/**
 * Least-recently-used cache bounded by the bytes of the encoded bodies. Keys start with the snapshot id, so
 * `dropSnapshotsExcept` can forget a replaced snapshot's results at once.
 */
export class ResultCache {
  private readonly entries = new Map<string, CachedResult>()
  private bytes = 0

  constructor(private readonly maxBytes: number) {}

  get size(): { entries: number; bytes: number } {
    return { entries: this.entries.size, bytes: this.bytes }
  }

  /** The entry without marking it used (a conditional request answered 304 does not read it). */
  peek(key: string): CachedResult | undefined {
    return this.entries.get(key)
  }

  get(key: string): CachedResult | undefined {
    const found = this.entries.get(key)
    if (!found) return undefined
    // Map keeps insertion order: re-inserting marks the entry most recently used.
    this.entries.delete(key)
    this.entries.set(key, found)
    return found
  }

  set(key: string, value: CachedResult): void {
    const cost = entryCost(key, value)
    if (cost > this.maxBytes) return
    this.delete(key)
    this.entries.set(key, value)
    this.bytes += cost
    for (const [oldest, entry] of this.entries) {
      if (this.bytes <= this.maxBytes) break
      this.entries.delete(oldest)
      this.bytes -= entryCost(oldest, entry)
    }
  }

  delete(key: string): void {
    const found = this.entries.get(key)
    if (!found) return
    this.entries.delete(key)
    this.bytes -= entryCost(key, found)
  }

  dropSnapshotsExcept(snapshotId: number): void {
    const keep = `${snapshotId}|`
    for (const key of [...this.entries.keys()]) if (!key.startsWith(keep)) this.delete(key)
  }
}
