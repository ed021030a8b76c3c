import { faultProxy } from './fault-proxy.ts'

/**
 * A TCP proxy on a port of its own in front of `target`; `down()` closes it and cuts every connection
 * (the target looks unreachable), `up()` listens again on the same port. Closed when the test finishes.
 */
export async function tcpProxy(target: { host: string; port: number }): Promise<{ port: number; down(): Promise<void>; up(): Promise<void> }> {
  return faultProxy(target)
}
