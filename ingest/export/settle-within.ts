/**
 * Waits for `promise` at most `ms` (ignoring its outcome): a driver's graceful close on a dead connection
 * may never call back, and closing must never hang a run. The caller then tears down by force.
 */
export async function settleWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    promise.then(() => undefined, () => undefined),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
  ])
  clearTimeout(timer)
}
