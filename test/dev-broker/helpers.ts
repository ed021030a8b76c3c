import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { connect } from 'node:net'
import {
  Kafka,
  logLevel,
  type Admin,
  type Consumer,
  type ConsumerConfig,
  type EachMessagePayload,
  type Producer,
  type ProducerConfig,
} from 'kafkajs'
import pino from 'pino'
import { onTestFinished } from 'vitest'
import { startDevBroker, type DevBroker, type DevBrokerOptions } from '../../dev-broker/index.ts'
import { waitFor as pollUntil } from '../helpers/wait-for.ts'

export { tempDir } from '../helpers/temp-dir.ts'

/** Polls until `condition` is truthy; fails after `timeoutMs`. */
export function waitFor<T>(condition: () => T | Promise<T>, timeoutMs = 10_000, message?: string): Promise<NonNullable<T>> {
  return pollUntil(condition, { timeoutMs, ...(message ? { message } : {}) })
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID()}`
}

/** Broker logs stay out of test output unless asked for. */
export const brokerLogger = pino({ level: process.env.COLDPIPE_TEST_BROKER_LOG_LEVEL ?? 'silent' })

/** A broker on a free port (unless given), closed when the test finishes. */
export async function startTestBroker(options: DevBrokerOptions = {}): Promise<DevBroker> {
  const broker = await startDevBroker({ port: 0, logger: brokerLogger, ...options })
  onTestFinished(() => broker.close())
  return broker
}

/** kafkajs tuned for tests: silent, and retries that give up in about a second instead of a minute. */
export function kafkaFor(bootstrap: string | DevBroker, clientId = 'coldpipe-test'): Kafka {
  return new Kafka({
    clientId,
    brokers: [typeof bootstrap === 'string' ? bootstrap : bootstrap.bootstrap],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2000,
    retry: { retries: 5, initialRetryTime: 50, maxRetryTime: 500 },
  })
}

export async function connectProducer(kafka: Kafka, config: ProducerConfig = {}): Promise<Producer> {
  const producer = kafka.producer({ allowAutoTopicCreation: true, ...config })
  await producer.connect()
  onTestFinished(() => producer.disconnect())
  return producer
}

export async function connectAdmin(kafka: Kafka): Promise<Admin> {
  const admin = kafka.admin()
  await admin.connect()
  onTestFinished(() => admin.disconnect())
  return admin
}

/** Group settings that make rebalances take a second, not half a minute. */
export const fastGroup = {
  sessionTimeout: 6000,
  heartbeatInterval: 500,
  rebalanceTimeout: 10_000,
  maxWaitTimeInMs: 200,
} satisfies Partial<ConsumerConfig>

export interface ConsumedMessage {
  topic: string
  partition: number
  offset: string
  key: string | null
  value: string | null
  timestamp: string
  headers: Record<string, string>
}

export interface RunningConsumer {
  consumer: Consumer
  messages: ConsumedMessage[]
  /** Partitions currently assigned, refreshed on every GROUP_JOIN. */
  assigned: () => number[]
  stop: () => Promise<void>
}

/** Subscribes and runs a consumer that records what it reads; disconnected when the test finishes. */
export async function runConsumer(
  kafka: Kafka,
  topic: string,
  config: Partial<ConsumerConfig> & { groupId: string },
  options: { fromBeginning?: boolean; autoCommitInterval?: number } = {},
): Promise<RunningConsumer> {
  const consumer = kafka.consumer({ ...fastGroup, ...config })
  const messages: ConsumedMessage[] = []
  let assigned: number[] = []
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    assigned = [...(event.payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b)
  })
  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    await consumer.disconnect()
  }
  onTestFinished(stop)
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: options.fromBeginning ?? true })
  await consumer.run({
    autoCommitInterval: options.autoCommitInterval ?? 100,
    eachMessage: async ({ topic: t, partition, message }: EachMessagePayload) => {
      messages.push({
        topic: t,
        partition,
        offset: message.offset,
        key: message.key?.toString() ?? null,
        value: message.value?.toString() ?? null,
        timestamp: message.timestamp,
        headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])),
      })
    },
  })
  return { consumer, messages, assigned: () => assigned, stop }
}

/** Sends raw bytes over a fresh TCP connection and collects what comes back until it closes or `ms` pass. */
export function rawExchange(port: number, payload: Buffer, ms = 2000): Promise<{ data: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    const finish = (closed: boolean) => {
      clearTimeout(timer)
      socket.destroy()
      resolve({ data: Buffer.concat(chunks), closed })
    }
    const timer = setTimeout(() => finish(false), ms)
    socket.on('data', (chunk) => chunks.push(chunk))
    socket.on('close', () => finish(true))
    socket.on('error', () => finish(true))
    socket.write(payload)
  })
}

/** A request frame: size, api key, version, correlation id, client id, body. */
export function requestFrame(apiKey: number, apiVersion: number, correlationId: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const clientId = Buffer.from('raw-test')
  const header = Buffer.alloc(10)
  header.writeInt16BE(apiKey, 0)
  header.writeInt16BE(apiVersion, 2)
  header.writeInt32BE(correlationId, 4)
  header.writeInt16BE(clientId.length, 8)
  const size = Buffer.alloc(4)
  size.writeInt32BE(header.length + clientId.length + body.length)
  return Buffer.concat([size, header, clientId, body])
}

export interface KcatResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs kcat (Debian package `kcat`) with a deadline so a protocol bug fails the test instead of hanging it. */
export function kcat(args: readonly string[], input?: string, timeoutMs = 15_000): Promise<KcatResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('kcat', args, { stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
    child.stdin.end(input ?? '')
  })
}
