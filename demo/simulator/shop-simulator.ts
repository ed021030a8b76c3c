import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs'
import type { Logger } from '../../core/logger.ts'
import { defaultShopTopics, ShopGenerator, type ShopMessage, type ShopTopics } from './shop-generator.ts'

export interface ShopSimulatorOptions {
  brokers: string[]
  topics?: Partial<ShopTopics>
  rateEventsPerSecond: number
  seed: number
  logger: Logger
  /** Stop publishing after this many messages (tests, benchmarks); unbounded by default. */
  maxMessages?: number
}

export interface ShopSimulator {
  stop(): Promise<void>
  /** Messages published so far. */
  sent(): number
  /** Resolves once `maxMessages` have been published. */
  readonly finished: Promise<void>
}

const tickMs = 100

/** Publishes simulated shop activity (CDC envelopes and integration events) at about the given rate. */
export async function startShopSimulator(options: ShopSimulatorOptions): Promise<ShopSimulator> {
  const logger = options.logger.child({ component: 'shop-simulator' })
  const generator = new ShopGenerator(options.seed, { ...defaultShopTopics, ...options.topics })
  const kafka = new Kafka({ clientId: 'coldpipe-shop-simulator', brokers: options.brokers, logLevel: logLevel.WARN })
  const producer: Producer = kafka.producer({ allowAutoTopicCreation: true, createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  const max = options.maxMessages ?? Number.POSITIVE_INFINITY
  let sent = 0
  let stopped = false
  let carry = 0
  let markFinished!: () => void
  const finished = new Promise<void>((resolve) => (markFinished = resolve))

  const tick = async (): Promise<void> => {
    carry += (options.rateEventsPerSecond * tickMs) / 1000
    const byTopic = new Map<string, ShopMessage[]>()
    while (carry >= 1 && sent < max) {
      for (const message of generator.step()) {
        byTopic.set(message.topic, [...(byTopic.get(message.topic) ?? []), message])
        sent++
        carry--
      }
    }
    if (byTopic.size > 0) {
      await producer.sendBatch({ topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages: messages.map((m) => ({ key: m.key, value: m.value })) })) })
    }
    if (sent >= max) markFinished()
  }

  let running = Promise.resolve()
  const timer = setInterval(() => {
    if (stopped) return
    running = running.then(tick).catch((error: unknown) => logger.warn({ err: error }, 'simulator publish failed; continuing'))
  }, tickMs)
  logger.info({ rateEventsPerSecond: options.rateEventsPerSecond, seed: options.seed }, 'shop simulator started')

  return {
    finished,
    sent: () => sent,
    async stop() {
      if (stopped) return
      stopped = true
      clearInterval(timer)
      await running
      await producer.disconnect()
      logger.info({ sent }, 'shop simulator stopped')
    },
  }
}
