import { Kafka, logLevel as KafkaLogLevel, type Consumer, type IHeaders, type KafkaConfig, type LogEntry, type SASLOptions } from 'kafkajs'
import type { Logger } from '../../core/logger.ts'
import type { ChangeRecord } from './change-record.ts'
import { fetchMaxBytes, type ChangesConfig } from './changes-config.ts'

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
  /** The consumer stopped on an error it will not retry (or after too many restarts in a row). */
  onCrash(error: Error): void
  /** The consumer crashed on a retriable error and restarts itself (rejoins, refetches from committed offsets). */
  onRestart?(error: Error, restartsInARow: number): void
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

/** Shared by every record without headers (most): one object less per buffered record. Frozen, as it is shared. */
const noHeaders: Record<string, string> = Object.freeze({})

function headersOf(headers: IHeaders | undefined): Record<string, string> {
  if (!headers) return noHeaders
  let any = false
  for (const _ in headers) {
    any = true
    break
  }
  if (!any) return noHeaders
  const out: Record<string, string> = {}
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
    requestTimeout: config.requestTimeoutMs,
    // A stalled connection must fail at the request timeout, not hang (kafkajs only enforces it when asked).
    enforceRequestTimeout: true,
    retry: { retries: config.brokerRetries, initialRetryTime: 200, maxRetryTime: 5_000 },
  }
}

/** Whether kafkajs would call this crash worth a restart (its own rule: retries exhausted, or a retriable cause). */
function isRetriable(error: Error): boolean {
  let cause: unknown = error
  while ((cause as { cause?: unknown }).cause) cause = (cause as { cause: unknown }).cause
  return error.name === 'KafkaJSNumberOfRetriesExceeded' || (cause as { retriable?: unknown }).retriable === true
}

/**
 * A kafkajs consumer group behind ChangeSource. kafkajs can restart a crashed consumer itself, but it
 * reuses its cluster (broker pool, request queues), and after a connection stalled past the request
 * timeouts that reuse never fetches again (found with the fault proxy: every later fetch times out,
 * while a new client on the same broker works). So kafkajs is told not to restart, and a crash on a
 * retriable error starts a fresh client and consumer instead, up to `consumerRestarts` times in a row
 * without a group join or a fetched batch in between; past that, or on an error kafkajs does not retry,
 * the crash is final (onCrash).
 */
export function createKafkaSource(config: ChangesConfig, logger: Logger): ChangeSource {
  const newConsumer = (): Consumer =>
    new Kafka(kafkaClientConfig(config, logger)).consumer({
      groupId: config.groupId,
      sessionTimeout: config.sessionTimeoutMs,
      heartbeatInterval: Math.max(100, Math.floor(config.sessionTimeoutMs / 10)),
      rebalanceTimeout: Math.max(config.sessionTimeoutMs * 2, 10_000),
      // A fetch response is all the consumer holds beyond our buffers (and its garbage until GC): small fetches.
      maxBytesPerPartition: Math.min(config.flushMaxBytes, 8 * 1024 * 1024, fetchMaxBytes(config)),
      maxBytes: fetchMaxBytes(config),
      // How long a fetch waits at the broker for data once the topic is drained. The offset commit after a landing
      // and leaving the group on stop both wait for it (same broker connection, and kafkajs lets the fetch end), so
      // the last batch of a burst was committed up to 250 ms late; polling a drained topic 10 times a second is cheap.
      maxWaitTimeInMs: 100,
      retry: { retries: config.brokerRetries, initialRetryTime: 200, maxRetryTime: 5_000, restartOnFailure: async () => false },
    })
  let consumer = newConsumer()
  let closed = false
  let restartsInARow = 0
  let restartTimer: NodeJS.Timeout | undefined

  const run = async (current: Consumer, handlers: SourceHandlers): Promise<void> => {
    current.on(current.events.REBALANCING, () => {
      if (current === consumer) handlers.onRebalancing()
    })
    current.on(current.events.GROUP_JOIN, (event) => {
      if (current !== consumer) return
      restartsInARow = 0
      const assignment = event.payload.memberAssignment
      handlers.onAssigned(Object.entries(assignment).flatMap(([topic, partitions]) => partitions.map((partition) => ({ topic, partition }))))
    })
    current.on(current.events.CRASH, (event) => {
      if (current === consumer) crashed(event.payload.error, handlers)
    })
    await current.connect()
    for (const topic of config.topics) await current.subscribe({ topic: topic.topic, fromBeginning: true })
    await current.run({
      autoCommit: false,
      partitionsConsumedConcurrently: Math.max(1, Math.min(4, config.topics.length * 2)),
      eachBatch: async ({ batch }) => {
        if (batch.messages.length === 0) return
        restartsInARow = 0
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
  }

  /** `starting`: the error came from connecting a fresh consumer, which is a broker problem whatever its kind. */
  const crashed = (error: Error, handlers: SourceHandlers, starting = false): void => {
    if (closed) return
    if (!(starting || isRetriable(error)) || restartsInARow >= config.consumerRestarts) {
      handlers.onCrash(error)
      return
    }
    restartsInARow++
    handlers.onRestart?.(error, restartsInARow)
    const delayMs = Math.min(5_000, 200 * 2 ** (restartsInARow - 1))
    restartTimer = setTimeout(() => {
      const old = consumer
      consumer = newConsumer()
      void old
        .disconnect()
        .catch(() => undefined)
        .then(() => (closed ? undefined : run(consumer, handlers)))
        // A restart that cannot even connect counts as one more crash in a row.
        .catch((startError: unknown) => crashed(startError instanceof Error ? startError : new Error(String(startError)), handlers, true))
    }, delayMs)
  }

  return {
    start: (handlers) => run(consumer, handlers),
    // While a crashed consumer is being replaced (or after it stopped), pause/resume throw: there is nothing
    // to pause then, and the new consumer is paused again on its first assignment (onAssigned).
    pause(partitions) {
      if (partitions.length === 0) return
      try {
        consumer.pause(groupByTopic(partitions))
      } catch (error) {
        logger.debug({ err: error }, 'consumer not running; nothing to pause')
      }
    },
    resume(partitions) {
      if (partitions.length === 0) return
      try {
        consumer.resume(groupByTopic(partitions))
      } catch (error) {
        logger.debug({ err: error }, 'consumer not running; nothing to resume')
      }
    },
    async commit(offsets) {
      if (offsets.length > 0) await consumer.commitOffsets(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset })))
    },
    async close() {
      closed = true
      clearTimeout(restartTimer)
      await consumer.disconnect()
    },
  }
}

function groupByTopic(partitions: TopicPartition[]): { topic: string; partitions: number[] }[] {
  const byTopic = new Map<string, number[]>()
  for (const { topic, partition } of partitions) byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition])
  return [...byTopic].map(([topic, list]) => ({ topic, partitions: list }))
}
