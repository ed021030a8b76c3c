import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { Kafka, logLevel, type Producer } from 'kafkajs'
import type { Logger } from '../../core/logger.ts'
import type { ChangeTopicConfig } from '../../ingest/changes/changes-config.ts'
import { defaultShopTopics, ShopGenerator } from '../../demo/simulator/index.ts'

/** The change topics the soak ingests: CDC envelopes of two shop tables and both services' integration events. */
export const soakChangeTopics: ChangeTopicConfig[] = [
  { topic: defaultShopTopics.orders, format: 'debezium', service: 'ordering', table: 'orders', key: ['id'] },
  { topic: defaultShopTopics.catalogItems, format: 'debezium', service: 'catalog', table: 'catalog_items', key: ['id'] },
  { topic: defaultShopTopics.orderingEvents, format: 'integration-event', service: 'ordering', table: 'events' },
  { topic: defaultShopTopics.catalogEvents, format: 'integration-event', service: 'catalog', table: 'events' },
]

/**
 * Continuous change traffic: the demo shop's CDC envelopes (orders, catalog items) and integration events,
 * produced into the dev broker (a child process: soak-broker-process.ts) with the simulated clock as both
 * the source time and the Kafka record time, so landed files fall into the simulated day's date partition.
 */
export class SoakEvents {
  private constructor(
    private readonly broker: ChildProcess,
    readonly bootstrap: string,
    private readonly producer: Producer,
    private readonly generator: ShopGenerator,
    private readonly clock: { ms: number },
  ) {}

  produced = 0

  static async start(logger: Logger): Promise<SoakEvents> {
    const broker = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./soak-broker-process.ts', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] })
    const bootstrap = await new Promise<string>((resolve, reject) => {
      broker.stdout!.once('data', (chunk: Buffer) => resolve((JSON.parse(chunk.toString()) as { bootstrap: string }).bootstrap))
      broker.once('exit', (code) => reject(new Error(`the dev broker process exited with ${code}`)))
    })
    logger.info({ bootstrap, pid: broker.pid }, 'dev broker process started')
    const kafka = new Kafka({ clientId: 'coldpipe-soak-producer', brokers: [bootstrap], logLevel: logLevel.NOTHING })
    const admin = kafka.admin()
    await admin.connect()
    await admin.createTopics({ topics: soakChangeTopics.map((t) => ({ topic: t.topic, numPartitions: 1 })), waitForLeaders: true })
    await admin.disconnect()
    const producer = kafka.producer()
    await producer.connect()
    const clock = { ms: 0 }
    return new SoakEvents(broker, bootstrap, producer, new ShopGenerator(13, defaultShopTopics, () => clock.ms), clock)
  }

  /** Produces about `count` messages spread over the simulated hour starting at `hourStart`. */
  async produceHour(hourStart: Date, count: number): Promise<void> {
    const byTopic = new Map<string, { key: string; value: string; timestamp: string }[]>()
    let made = 0
    while (made < count) {
      this.clock.ms = hourStart.getTime() + Math.floor((made * 3_600_000) / count)
      for (const message of this.generator.step()) {
        const list = byTopic.get(message.topic) ?? []
        list.push({ key: message.key, value: message.value, timestamp: String(this.clock.ms) })
        byTopic.set(message.topic, list)
        made++
      }
    }
    await this.producer.sendBatch({ topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) })
    this.produced += made
  }

  async close(): Promise<void> {
    await this.producer.disconnect()
    if (this.broker.exitCode === null) {
      const exited = once(this.broker, 'exit')
      this.broker.kill('SIGTERM')
      await exited
    }
  }
}
