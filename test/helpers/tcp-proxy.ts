import { createServer, connect, type Server, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import { onTestFinished } from 'vitest'

/**
 * A TCP proxy on a port of its own in front of `target`; `down()` closes it and cuts every connection
 * (the target looks unreachable), `up()` listens again on the same port. Closed when the test finishes.
 */
export async function tcpProxy(target: { host: string; port: number }): Promise<{ port: number; down(): Promise<void>; up(): Promise<void> }> {
  const sockets = new Set<Socket>()
  let server: Server | undefined
  let port = 0
  const listen = async (): Promise<void> => {
    const next = createServer((client) => {
      const upstream = connect(target.port, target.host)
      for (const s of [client, upstream]) {
        sockets.add(s)
        s.on('close', () => sockets.delete(s))
        s.on('error', () => {
          client.destroy()
          upstream.destroy()
        })
      }
      client.pipe(upstream)
      upstream.pipe(client)
    })
    await new Promise<void>((resolve, reject) => {
      next.once('error', reject)
      next.listen(port, '127.0.0.1', () => resolve())
    })
    server = next
    port = (next.address() as AddressInfo).port
  }
  const down = async (): Promise<void> => {
    const current = server
    server = undefined
    for (const s of sockets) s.destroy()
    if (current) await new Promise((resolve) => current.close(resolve))
  }
  await listen()
  onTestFinished(down)
  return { port, down, up: listen }
}
