import { ColdpipeError } from '../core/errors.ts'

/**
 * Counts streamed downloads: at most `maxPerKey` at once per API key (or client address when anonymous),
 * answered RATE_LIMITED past it, and at most `maxTotal` in the whole server, answered OVERLOADED. Streams do
 * not take the report query slots, since a slow download may hold its connection for minutes; a streamed
 * /sql result also takes an SQL slot, as it occupies a worker process (see sql-stream.ts).
 */
export class StreamQuota {
  private readonly perKey = new Map<string, number>()
  private total = 0

  constructor(
    private readonly maxPerKey: number,
    private readonly maxTotal: number,
  ) {}

  get stats(): { streams: number; keys: number } {
    return { streams: this.total, keys: this.perKey.size }
  }

  running(key: string): number {
    return this.perKey.get(key) ?? 0
  }

  /** Takes a stream slot for `key`; call the returned function exactly once when the stream ends (extra calls are ignored). */
  acquire(key: string): () => void {
    const mine = this.running(key)
    if (mine >= this.maxPerKey) {
      throw new ColdpipeError('RATE_LIMITED', `at most ${this.maxPerKey} streamed downloads at once per API key (api.maxStreamsPerKey); wait for one to finish`, {
        context: { maxStreamsPerKey: this.maxPerKey, running: mine, retryAfterSeconds: 1 },
      })
    }
    if (this.total >= this.maxTotal) {
      throw new ColdpipeError('OVERLOADED', `the server streams ${this.total} downloads already (api.maxStreams); retry shortly`, {
        context: { maxStreams: this.maxTotal, running: this.total, retryAfterSeconds: 1 },
      })
    }
    this.perKey.set(key, mine + 1)
    this.total++
    let released = false
    return () => {
      if (released) return
      released = true
      this.total--
      const left = this.running(key) - 1
      if (left > 0) this.perKey.set(key, left)
      else this.perKey.delete(key)
    }
  }
}
