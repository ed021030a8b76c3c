import { ColdpipeError } from '../../core/errors.ts'

export interface ReadGuardOptions {
  /** No batch for this long while the consumer waits for one: the source stalled. */
  readTimeoutMs: number
  signal?: AbortSignal
  /** Facts for the errors: source and table. */
  context: { source: string; table: string }
  /**
   * Called once when the guard gives up (stall or abort), before it throws: must end the underlying read so
   * the pending `next()` settles (a stalled socket never would on its own).
   */
  giveUp: () => void
}

export function abortedError(context: { source: string; table?: string }, signal: AbortSignal): ColdpipeError {
  const where = context.table ? `source ${context.source}, table ${context.table}` : `source ${context.source}`
  return new ColdpipeError('EXPORT_ABORTED', `${where}: export stopped (${String(signal.reason ?? 'aborted')})`, { cause: signal.reason, context })
}

/**
 * Passes batches through, failing with SOURCE_READ_TIMEOUT when the source sends nothing for readTimeoutMs
 * while we wait for it, and with EXPORT_ABORTED when `signal` fires. Time the consumer spends on a batch
 * (converting a chunk) does not count: a source held back by back-pressure is not stalled. One timer per
 * batch, never per row.
 */
export async function* guardReads<T>(source: AsyncIterable<T>, options: ReadGuardOptions): AsyncGenerator<T> {
  const { readTimeoutMs, signal, context } = options
  const iterator = source[Symbol.asyncIterator]()
  let fail: ((error: unknown) => void) | undefined
  // Once given up, this (not the torn-down stream's own complaint) is what every later read reports.
  let failure: ColdpipeError | undefined
  const giveUp = (error: ColdpipeError): void => {
    if (failure) return
    failure = error
    options.giveUp()
    fail?.(error)
  }
  const onAbort = (): void => giveUp(abortedError(context, signal!))
  signal?.addEventListener('abort', onAbort, { once: true })
  let timer: NodeJS.Timeout | undefined
  try {
    if (signal?.aborted) throw abortedError(context, signal)
    for (;;) {
      if (failure) throw failure
      const next = iterator.next()
      const failed = new Promise<never>((_, reject) => (fail = reject))
      timer = setTimeout(() => {
        giveUp(new ColdpipeError('SOURCE_READ_TIMEOUT', `source ${context.source}, table ${context.table}: no data for ${readTimeoutMs} ms while reading (stalled connection or server)`, {
          context: { ...context, readTimeoutMs },
        }))
      }, readTimeoutMs)
      let result: IteratorResult<T>
      try {
        result = await Promise.race([next, failed])
      } catch (error) {
        throw failure ?? error
      } finally {
        clearTimeout(timer)
        fail = undefined
        // The losing `next` may still reject once the read is torn down; that is expected.
        next.catch(() => undefined)
      }
      if (failure) throw failure
      if (result.done) return
      yield result.value
    }
  } finally {
    clearTimeout(timer)
    signal?.removeEventListener('abort', onAbort)
    // Not awaited: a stalled iterator would never finish returning; giveUp / the connector's close ends the read.
    void iterator.return?.()?.catch?.(() => undefined)
  }
}
