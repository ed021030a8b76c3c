import type { Socket } from 'node:net'
import type { Logger } from 'pino'
import { DevBrokerError, isDevBrokerError } from '../errors/dev-broker-error.ts'
import type { BrokerContext } from './broker-context.ts'
import { routeRequest } from './request-router.ts'

/** Smallest possible request: api key, version, correlation id and a null client id. */
const MIN_FRAME_BYTES = 10

/**
 * One client TCP connection: splits the byte stream into size-prefixed frames and runs them one at a
 * time, so responses leave in request order as the protocol promises. A frame that is oversized or
 * does not parse ends this connection only; closing it aborts whatever request is parked (long-poll
 * fetch, pending join) so no state outlives the client.
 */
export class Connection {
  private readonly chunks: Buffer[] = []
  private buffered = 0
  private readonly frames: Buffer[] = []
  private running = false
  private readonly abort = new AbortController()
  private readonly logger: Logger
  readonly clientHost: string

  constructor(
    private readonly socket: Socket,
    private readonly broker: BrokerContext,
    private readonly maxFrameBytes: number,
    logger: Logger,
  ) {
    this.clientHost = socket.remoteAddress ?? 'unknown'
    this.logger = logger.child({ client: `${this.clientHost}:${socket.remotePort}` })
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.receive(chunk))
    socket.on('error', (error) => this.logger.debug({ err: error }, 'client socket error'))
    socket.on('close', () => {
      this.abort.abort()
      this.frames.length = 0
      this.chunks.length = 0
    })
  }

  get closed(): boolean {
    return this.abort.signal.aborted
  }

  private receive(chunk: Buffer): void {
    this.chunks.push(chunk)
    this.buffered += chunk.length
    while (this.buffered >= 4) {
      const size = this.peekSize()
      if (size < MIN_FRAME_BYTES || size > this.maxFrameBytes) {
        const code = size > this.maxFrameBytes ? 'FRAME_TOO_LARGE' : 'MALFORMED_REQUEST'
        this.fail(new DevBrokerError(code, `request frame of ${size} bytes`, { context: { size, max: this.maxFrameBytes } }))
        return
      }
      if (this.buffered < 4 + size) break
      this.frames.push(this.take(4 + size).subarray(4))
    }
    void this.run()
  }

  private peekSize(): number {
    const head = this.chunks[0]!
    if (head.length >= 4) return head.readInt32BE(0)
    return Buffer.concat(this.chunks, 4).subarray(0, 4).readInt32BE(0)
  }

  private take(bytes: number): Buffer {
    this.buffered -= bytes
    const head = this.chunks[0]!
    if (head.length >= bytes) {
      if (head.length === bytes) this.chunks.shift()
      else this.chunks[0] = head.subarray(bytes)
      return head.subarray(0, bytes)
    }
    const out = Buffer.allocUnsafe(bytes)
    let copied = 0
    while (copied < bytes) {
      const chunk = this.chunks[0]!
      const n = Math.min(chunk.length, bytes - copied)
      chunk.copy(out, copied, 0, n)
      copied += n
      if (n === chunk.length) this.chunks.shift()
      else this.chunks[0] = chunk.subarray(n)
    }
    return out
  }

  private async run(): Promise<void> {
    if (this.running) return
    this.running = true
    try {
      while (this.frames.length > 0 && !this.closed) {
        const frame = this.frames.shift()!
        const { correlationId, body } = await routeRequest(frame, this.broker, {
          clientHost: this.clientHost,
          signal: this.abort.signal,
          logger: this.logger,
        })
        if (body === null || this.closed) continue
        const chunks = body.toChunks()
        const header = Buffer.allocUnsafe(8)
        header.writeInt32BE(4 + body.length, 0)
        header.writeInt32BE(correlationId, 4)
        this.socket.cork()
        this.socket.write(header)
        for (const chunk of chunks) this.socket.write(chunk)
        this.socket.uncork()
        // A client that does not read its responses must not make us buffer without bound.
        if (this.socket.writableNeedDrain) await this.drained()
      }
    } catch (error) {
      this.fail(error)
    } finally {
      this.running = false
    }
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.socket.off('drain', done).off('close', done)
        resolve()
      }
      this.socket.on('drain', done).on('close', done)
    })
  }

  private fail(error: unknown): void {
    if (isDevBrokerError(error)) {
      this.logger.warn({ code: error.code, context: error.context, err: error }, 'closing client connection')
    } else {
      this.logger.error({ err: error }, 'request failed; closing client connection')
    }
    this.frames.length = 0
    this.socket.destroy()
  }

  close(): void {
    this.socket.destroy()
  }
}
