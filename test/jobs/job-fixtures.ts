import { Writable } from 'node:stream'
import { createLogger, type Logger } from '../../core/logger.ts'
import { jobsDefaults, type JobsConfig } from '../../jobs/index.ts'

/** Jobs config for tests: no retries, no catch-up unless asked. */
export function jobsConfig(overrides: Partial<JobsConfig> = {}): JobsConfig {
  return { ...jobsDefaults, catchUpOnStart: false, retryMaxAttempts: 0, ...overrides }
}

/** A real pino logger whose records the test can read. */
export function recordingLogger(): { logger: Logger; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = []
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) records.push(JSON.parse(line))
      done()
    },
  })
  return { logger: createLogger({ level: 'debug', destination }), records }
}

/** Lets real I/O (fs, sockets) progress while timers are faked: polls on setImmediate, which stays real. */
export async function settle<T>(condition: () => T | Promise<T>, rounds = 50_000): Promise<NonNullable<T>> {
  for (let i = 0; i < rounds; i++) {
    const value = await condition()
    if (value) return value as NonNullable<T>
    await new Promise((resolve) => setImmediate(resolve))
  }
  throw new Error('condition not met while settling')
}

/** A promise with its resolve/reject exposed, to hold a job open. */
export function gate<T = void>(): { promise: Promise<T>; open(value: T): void; fail(error: unknown): void } {
  let open!: (value: T) => void
  let fail!: (error: unknown) => void
  const promise = new Promise<T>((resolve, reject) => {
    open = resolve
    fail = reject
  })
  return { promise, open, fail }
}
