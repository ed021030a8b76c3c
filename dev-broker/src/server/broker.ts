import { randomUUID } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import pino, { type Logger } from 'pino'
import { apiHandlers } from '../apis/api-registry.ts'
import { DevBrokerError } from '../errors/dev-broker-error.ts'
import { GroupCoordinator } from '../groups/group-coordinator.ts'
import { OffsetStore } from '../groups/offset-store.ts'
import { TopicStore } from '../log/topic-store.ts'
import type { BrokerContext } from './broker-context.ts'
import { Connection } from './connection.ts'

export interface DevBrokerOptions {
  /** Interface to listen on; default 127.0.0.1. */
  host?: string
  /** 0 picks a free port. Default 9092. */
  port?: number
  /** Host name given to clients in Metadata; defaults to `host` (127.0.0.1 when listening on all interfaces). */
  advertisedHost?: string
  /** Port given to clients in Metadata; defaults to the listening port (tests put a fault proxy in front). */
  advertisedPort?: number
  /** Keeps topics, logs and committed offsets across restarts; omitted = memory only. */
  dataDir?: string
  /** Create unknown topics on Metadata and Produce (Kafka's auto.create.topics.enable). Default true. */
  autoCreateTopics?: boolean
  /** Partitions of auto-created topics and of CreateTopics with num_partitions -1. Default 1. */
  defaultPartitions?: number
  /** Per-partition byte budget; the oldest batches are dropped beyond it. Default 256 MiB. */
  retentionBytesPerPartition?: number
  /** Frames above this close the connection (Kafka's socket.request.max.bytes). Default 100 MiB. */
  maxFrameBytes?: number
  /** Bounds accepted in JoinGroup (Kafka's group.min/max.session.timeout.ms). Default 1 s .. 30 min. */
  minSessionTimeoutMs?: number
  maxSessionTimeoutMs?: number
  logger?: Logger
}

export interface DevBroker {
  /** `host:port`, ready for a client's `brokers` / `bootstrap.servers`. */
  bootstrap: string
  host: string
  port: number
  close(): Promise<void>
}

const NODE_ID = 0

/** A stable cluster id per data directory, as Kafka keeps one in meta.properties. */
function clusterIdFor(dataDir: string | null): string {
  if (dataDir === null) return `coldpipe-dev-${randomUUID().slice(0, 8)}`
  const file = join(dataDir, 'cluster-id')
  if (existsSync(file)) return readFileSync(file, 'utf8').trim()
  const id = `coldpipe-dev-${randomUUID().slice(0, 8)}`
  writeFileSync(file, id)
  return id
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (cause) =>
      reject(new DevBrokerError('LISTEN_FAILED', `cannot listen on ${host}:${port}`, { cause, context: { host, port } })),
    )
    server.listen(port, host, () => {
      const address = server.address()
      resolve(typeof address === 'object' && address ? address.port : port)
    })
  })
}

/**
 * Starts a single-node broker speaking the Kafka wire protocol on TCP, for tests and the embedded
 * demo. Production runs Apache Kafka; see docs/dev-broker.md for what this one leaves out.
 */
export async function startDevBroker(options: DevBrokerOptions = {}): Promise<DevBroker> {
  const host = options.host ?? '127.0.0.1'
  const logger = withComponent(options.logger ?? pino({ level: 'warn' }))
  const dataDir = options.dataDir ?? null
  if (dataDir !== null) mkdirSync(dataDir, { recursive: true })

  const topics = new TopicStore({
    dataDir,
    retentionBytesPerPartition: options.retentionBytesPerPartition ?? 256 * 1024 * 1024,
    logger,
  })
  const offsets = new OffsetStore(dataDir)
  const groups = new GroupCoordinator(
    offsets,
    { minSessionTimeoutMs: options.minSessionTimeoutMs ?? 1000, maxSessionTimeoutMs: options.maxSessionTimeoutMs ?? 1_800_000 },
    logger,
  )
  const connections = new Set<Connection>()
  const server = createServer()
  let producerId = 0
  const context: BrokerContext = {
    nodeId: NODE_ID,
    advertisedHost: options.advertisedHost ?? (host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host),
    port: 0,
    clusterId: clusterIdFor(dataDir),
    autoCreateTopics: options.autoCreateTopics ?? true,
    defaultPartitions: options.defaultPartitions ?? 1,
    topics,
    offsets,
    groups,
    supportedApis: apiHandlers.map((h) => ({ apiKey: h.apiKey, minVersion: h.minVersion, maxVersion: h.maxVersion })),
    nextProducerId: () => ++producerId,
    logger,
  }

  server.on('connection', (socket: Socket) => {
    const connection = new Connection(socket, context, options.maxFrameBytes ?? 100 * 1024 * 1024, logger)
    connections.add(connection)
    socket.on('close', () => connections.delete(connection))
  })

  let port: number
  try {
    port = await listen(server, host, options.port ?? 9092)
  } catch (error) {
    groups.close()
    topics.close()
    throw error
  }
  context.port = options.advertisedPort ?? port
  logger.info({ host, port, dataDir, clusterId: context.clusterId }, 'dev broker listening')

  let closing: Promise<void> | null = null
  return {
    bootstrap: `${context.advertisedHost}:${port}`,
    host: context.advertisedHost,
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const connection of connections) connection.close()
      }).then(() => {
        groups.close()
        topics.close()
        logger.info({ port }, 'dev broker closed')
      })
      return closing
    },
  }
}

/** The caller may have bound `component: 'dev-broker'` already; pino would write the key twice. */
function withComponent(logger: Logger): Logger {
  return logger.bindings().component === 'dev-broker' ? logger : logger.child({ component: 'dev-broker' })
}
