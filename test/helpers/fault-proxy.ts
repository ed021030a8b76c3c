import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net'
import { onTestFinished } from 'vitest'

/** Which way bytes flow: `down` from the server to coldpipe (query results, fetches), `up` the other way. */
export type Direction = 'down' | 'up'

type Fault = { kind: 'cut' | 'stall'; direction: Direction; afterBytes: number; repeat?: boolean } | undefined

export interface FaultProxy {
  port: number
  /** `host:port` of the proxy, for URLs and broker lists. */
  address: string
  /** Bytes forwarded so far in each direction, over every connection. */
  readonly bytes: Record<Direction, number>
  /** Connections accepted so far. */
  readonly connections: number
  /** Once `afterBytes` more bytes have flowed `direction`, resets every open connection (a cut mid-stream). */
  cutAfter(afterBytes: number, direction?: Direction): void
  /** Like cutAfter, re-armed after every cut until heal(): every attempt dies after `afterBytes`. */
  cutEvery(afterBytes: number, direction?: Direction): void
  /** Once `afterBytes` more bytes have flowed `direction`, stops forwarding (sockets stay open) until heal(). */
  stallAfter(afterBytes: number, direction?: Direction): void
  /** Caps forwarding at `bytesPerSecond` each way, until heal(). */
  slow(bytesPerSecond: number): void
  /** Clears every fault; stalled data flows again. New connections are clean. */
  heal(): void
  /** Resolves once the armed fault has fired. */
  fired(): Promise<void>
  /** Closes the listener and cuts every connection (the target looks unreachable). */
  down(): Promise<void>
  /** Listens again on the same port. */
  up(): Promise<void>
}

/**
 * A TCP proxy on a port of its own in front of `target` that can break a connection in the middle: cut
 * it after N bytes, stall it, or slow it, as a network or a dying server would. Closed when the test ends.
 */
export async function faultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  const sockets = new Set<Socket>()
  const pairs = new Set<{ client: Socket; upstream: Socket }>()
  const bytes: Record<Direction, number> = { down: 0, up: 0 }
  let connections = 0
  let server: Server | undefined
  let port = 0
  let fault: Fault
  let faultStart = 0
  let stalled = false
  let bytesPerSecond = 0
  let onFired: (() => void)[] = []
  const held: { to: Socket; chunk: Buffer }[] = []

  const fire = (): void => {
    const current = fault
    fault = current?.repeat ? current : undefined
    if (current?.repeat) faultStart = bytes[current.direction]
    if (current?.kind === 'cut') {
      for (const pair of pairs) {
        pair.client.resetAndDestroy()
        pair.upstream.resetAndDestroy()
      }
    } else if (current?.kind === 'stall') {
      stalled = true
    }
    for (const resolve of onFired) resolve()
    onFired = []
  }

  const forward = (from: Socket, to: Socket, direction: Direction): void => {
    from.on('data', (chunk: Buffer) => {
      if (stalled) {
        held.push({ to, chunk })
        return
      }
      let data = chunk
      if (fault && fault.direction === direction) {
        const allowed = fault.afterBytes - (bytes[direction] - faultStart)
        if (allowed <= data.length) {
          const head = data.subarray(0, Math.max(0, allowed))
          const tail = data.subarray(Math.max(0, allowed))
          bytes[direction] += head.length
          if (head.length) to.write(head)
          const kind = fault.kind
          fire()
          if (kind === 'stall' && tail.length) held.push({ to, chunk: tail })
          return
        }
      }
      bytes[direction] += data.length
      const ok = to.write(data)
      if (bytesPerSecond > 0) {
        from.pause()
        setTimeout(() => from.resume(), Math.ceil((data.length / bytesPerSecond) * 1000))
      } else if (!ok) {
        from.pause()
        to.once('drain', () => from.resume())
      }
    })
    from.on('end', () => to.end())
  }

  const listen = async (): Promise<void> => {
    const next = createServer((client) => {
      connections++
      const upstream = connect(target.port, target.host)
      const pair = { client, upstream }
      pairs.add(pair)
      for (const s of [client, upstream]) {
        sockets.add(s)
        s.on('close', () => {
          sockets.delete(s)
          pairs.delete(pair)
          client.destroy()
          upstream.destroy()
        })
        s.on('error', () => {
          client.destroy()
          upstream.destroy()
        })
      }
      forward(client, upstream, 'up')
      forward(upstream, client, 'down')
    })
    await new Promise<void>((resolve, reject) => {
      next.once('error', reject)
      next.listen(port, '127.0.0.1', () => resolve())
    })
    server = next
    port = (next.address() as AddressInfo).port
  }

  const arm = (kind: 'cut' | 'stall', afterBytes: number, direction: Direction, repeat = false): void => {
    fault = { kind, direction, afterBytes, repeat }
    faultStart = bytes[direction]
    if (afterBytes <= 0) fire()
  }

  const down = async (): Promise<void> => {
    const current = server
    server = undefined
    for (const s of sockets) s.destroy()
    if (current) await new Promise((resolve) => current.close(resolve))
  }

  await listen()
  onTestFinished(down)
  return {
    get port() {
      return port
    },
    get address() {
      return `127.0.0.1:${port}`
    },
    bytes,
    get connections() {
      return connections
    },
    cutAfter: (afterBytes, direction = 'down') => arm('cut', afterBytes, direction),
    cutEvery: (afterBytes, direction = 'down') => arm('cut', afterBytes, direction, true),
    stallAfter: (afterBytes, direction = 'down') => arm('stall', afterBytes, direction),
    slow: (rate) => {
      bytesPerSecond = rate
    },
    heal: () => {
      fault = undefined
      stalled = false
      bytesPerSecond = 0
      for (const { to, chunk } of held.splice(0)) if (!to.destroyed) to.write(chunk)
    },
    fired: () => (fault ? new Promise<void>((resolve) => onFired.push(resolve)) : Promise.resolve()),
    down,
    up: listen,
  }
}
