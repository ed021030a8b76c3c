import { Kafka, logLevel as KafkaLogLevel, type Consumer, type IHeaders, type KafkaConfig, type LogEntry, type SASLOptions } from 'kafkajs'
import type { Logger } from '../../core/logger.ts'
import type { ChangeRecord } from './change-record.ts'
import type { ChangesConfig } from './changes-config.ts'

export interface TopicPartition {
  topic: string
  partition: number
}

export interface SourceHandlers {
  /** Records of one topic-partition, in offset order. Returning lets the consumer fetch on. */
  onBatch(records: ChangeRecord[]): Promise<void>
  /** The group is rebalancing: partitions may move to another member. */
  onRebalancing(): void
  /** This member joined (again) and now owns exactly these partitions. */
  onAssigned(partitions: TopicPartition[]): void
  /** The consumer stopped on an error it will not retry. */
  onCrash(error: Error): void
}

/** The small surface change ingest needs from a Kafka consumer group; only this file knows kafkajs. */
export interface ChangeSource {
  start(handlers: SourceHandlers): Promise<void>
  pause(partitions: TopicPartition[]): void
  resume(partitions: TopicPartition[]): void
  /** Commits `offset` = the next offset to read, per partition (Kafka's convention). */
  commit(offsets: (TopicPartition & { offset: string })[]): Promise<void>
  /** Stops fetching, leaves the group and disconnects. */
  close(): Promise<void>
}

function headersOf(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  if (!headers) return out
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue
    const first = Array.isArray(value) ? value[0] : value
    if (first === undefined) continue
    out[name] = Buffer.isBuffer(first) ? first.toString('utf8') : String(first)
  }
  return out
}

function kafkaLogCreator(logger: Logger) {
  const child = logger.child({ component: 'kafkajs' })
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, ...rest } = log
      if (level === KafkaLogLevel.ERROR) child.error(rest, message)
      else if (level === KafkaLogLevel.WARN) child.warn(rest, message)
      else if (level === KafkaLogLevel.INFO) child.debug(rest, message)
      else child.trace(rest, message)
    }
}

/** kafkajs client settings from our config; SSL and SASL pass through as given. */
export function kafkaClientConfig(config: ChangesConfig, logger: Logger): KafkaConfig {
  return {
    clientId: config.clientId,
    brokers: config.brokers,
    ...(config.ssl !== undefined ? { ssl: config.ssl as KafkaConfig['ssl'] } : {}),
    ...(config.sasl ? { sasl: config.sasl as SASLOptions } : {}),
    logLevel: KafkaLogLevel.INFO,
    logCreator: kafkaLogCreator(logger),
    retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 5_000 },
  }
}

export function createKafkaSource(config: ChangesConfig, logger: Logger): ChangeSource {
  const kafka = new Kafka(kafkaClientConfig(config, logger))
  const consumer: Consumer = kafka.consumer({
    groupId: config.groupId,
    sessionTimeout: config.sessionTimeoutMs,
    heartbeatInterval: Math.max(100, Math.floor(config.sessionTimeoutMs / 10)),
    rebalanceTimeout: Math.max(config.sessionTimeoutMs * 2, 10_000),
    // One fetch response is the only memory the consumer holds beyond our buffers.
    maxBytesPerPartition: Math.min(config.flushMaxBytes, 8 * 1024 * 1024),
    maxBytes: Math.min(config.maxBufferedBytes, 32 * 1024 * 1024),
    maxWaitTimeInMs: 250,
    retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 5_000 },
  })
  let closed = false

  return {
    async start(handlers) {
      consumer.on(consumer.events.REBALANCING, () => handlers.onRebalancing())
      consumer.on(consumer.events.GROUP_JOIN, (event) => {
        const assignment = event.payload.memberAssignment
        handlers.onAssigned(Object.entries(assignment).flatMap(([topic, partitions]) => partitions.map((partition) => ({ topic, partition }))))
      })
      consumer.on(consumer.events.CRASH, (event) => {
        if (!closed && !event.payload.restart) handlers.onCrash(event.payload.error)
      })
      await consumer.connect()
      for (const topic of config.topics) await consumer.subscribe({ topic: topic.topic, fromBeginning: true })
      await consumer.run({
        autoCommit: false,
        partitionsConsumedConcurrently: Math.max(1, Math.min(4, config.topics.length * 2)),
        eachBatch: async ({ batch }) => {
          if (batch.messages.length === 0) return
          const records: ChangeRecord[] = batch.messages.map((m) => ({
            topic: batch.topic,
            partition: batch.partition,
            offset: m.offset,
            key: m.key,
            value: m.value,
            headers: headersOf(m.headers),
            timestamp: m.timestamp,
          }))
          // The batch's last offset is resolved when this returns (auto-resolve), so fetching moves on;
          // nothing is committed until the landing says so (autoCommit off).
          await handlers.onBatch(records)
        },
      })
    },
    pause(partitions) {
      if (partitions.length > 0) consumer.pause(groupByTopic(partitions))
    },
    resume(partitions) {
      if (partitions.length > 0) consumer.resume(groupByTopic(partitions))
    },
    async commit(offsets) {
      if (offsets.length > 0) await consumer.commitOffsets(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset })))
    },
    async close() {
      closed = true
      await consumer.disconnect()
    },
  }
}

function groupByTopic(partitions: TopicPartition[]): { topic: string; partitions: number[] }[] {
  const byTopic = new Map<string, number[]>()
  for (const { topic, partition } of partitions) byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition])
  return [...byTopic].map(([topic, list]) => ({ topic, partitions: list }))
}
