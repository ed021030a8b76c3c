import type { PartitionLog } from '../../log/partition-log.ts'

/**
 * Resolves when any of the partitions gets data, after `timeoutMs`, or when `signal` aborts, and in
 * every case unregisters from all of them so an abandoned long poll leaves nothing behind.
 */
export function waitForAppend(logs: readonly PartitionLog[], timeoutMs: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const cancels: (() => void)[] = []
    const done = () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      for (const cancel of cancels) cancel()
      resolve()
    }
    const timer = setTimeout(done, timeoutMs)
    signal.addEventListener('abort', done, { once: true })
    for (const log of logs) cancels.push(log.onNextAppend(done))
  })
}
