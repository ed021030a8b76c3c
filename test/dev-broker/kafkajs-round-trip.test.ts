import { CompressionTypes } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { connectAdmin, connectProducer, kafkaFor, runConsumer, startTestBroker, uniqueName, waitFor } from './helpers.ts'

describe('dev broker with kafkajs', () => {
  it('round-trips keys, headers, timestamps and tombstones', async () => {
    const broker = await startTestBroker()
    const kafka = kafkaFor(broker)
    const topic = uniqueName('round-trip')
    const producer = await connectProducer(kafka)
    const timestamp = String(Date.UTC(2024, 0, 2, 3, 4, 5))
    await producer.send({
      topic,
      messages: [
        { key: 'k1', value: 'v1', headers: { source: 'orders', 'trace-id': 'abc' }, timestamp },
        { key: 'k1', value: null },
        { key: null, value: 'no-key' },
      ],
    })

    const { messages } = await runConsumer(kafka, topic, { groupId: uniqueName('g') })
    await waitFor(() => messages.length === 3)
    expect(messages.map((m) => [m.offset, m.key, m.value])).toEqual([
      ['0', 'k1', 'v1'],
      ['1', 'k1', null],
      ['2', null, 'no-key'],
    ])
    expect(messages[0]!.headers).toEqual({ source: 'orders', 'trace-id': 'abc' })
    expect(messages[0]!.timestamp).toBe(timestamp)
  })

  it('spreads 10k messages over many partitions and reads every one back, gzip included', async () => {
    const broker = await startTestBroker()
    const kafka = kafkaFor(broker)
    const admin = await connectAdmin(kafka)
    const topic = uniqueName('wide')
    await admin.createTopics({ topics: [{ topic, numPartitions: 8 }], waitForLeaders: true })
    const producer = await connectProducer(kafka)
    const total = 10_000
    for (let start = 0; start < total; start += 2500) {
      await producer.send({
        topic,
        compression: start % 5000 === 0 ? CompressionTypes.GZIP : CompressionTypes.None,
        messages: Array.from({ length: 2500 }, (_, i) => ({ key: `key-${start + i}`, value: `value-${start + i}` })),
      })
    }

    const { messages } = await runConsumer(kafka, topic, { groupId: uniqueName('g') })
    await waitFor(() => messages.length >= total, 20_000)
    expect(new Set(messages.map((m) => m.value)).size).toBe(total)
    expect(new Set(messages.map((m) => m.partition)).size).toBe(8)
    const offsets = await admin.fetchTopicOffsets(topic)
    expect(offsets.reduce((sum, p) => sum + Number(p.high), 0)).toBe(total)
  })

  it('accepts an idempotent producer and keeps every message once', async () => {
    const broker = await startTestBroker()
    const kafka = kafkaFor(broker)
    const topic = uniqueName('idempotent')
    const producer = await connectProducer(kafka, { idempotent: true, maxInFlightRequests: 1 })
    for (let i = 0; i < 5; i++) {
      await producer.send({ topic, acks: -1, messages: [{ value: `a${i}` }, { value: `b${i}` }] })
    }
    const admin = await connectAdmin(kafka)
    const [partition] = await admin.fetchTopicOffsets(topic)
    expect(partition).toMatchObject({ partition: 0, low: '0', high: '10' })
  })

  it('serves admin createTopics, fetchTopicMetadata, fetchOffsets and deleteTopics', async () => {
    const broker = await startTestBroker({ autoCreateTopics: false })
    const kafka = kafkaFor(broker)
    const admin = await connectAdmin(kafka)
    const topic = uniqueName('admin')
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] })).toBe(true)
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] })).toBe(false)

    const metadata = await admin.fetchTopicMetadata({ topics: [topic] })
    expect(metadata.topics[0]!.partitions.map((p) => p.partitionId).sort()).toEqual([0, 1, 2])
    expect(await admin.listTopics()).toContain(topic)

    const producer = await connectProducer(kafka)
    await producer.send({ topic, messages: [{ value: 'one', partition: 1 }] })
    const groupId = uniqueName('g')
    const consumer = await runConsumer(kafka, topic, { groupId })
    await waitFor(() => consumer.messages.length === 1)
    const committed = await waitFor(async () => {
      const [fetched] = await admin.fetchOffsets({ groupId, topics: [topic] })
      return fetched!.partitions.find((p) => p.partition === 1)?.offset === '1' ? fetched : undefined
    })
    expect(committed.partitions.find((p) => p.partition === 2)?.offset).toBe('-1')
    await consumer.stop()

    await admin.deleteTopics({ topics: [topic] })
    await waitFor(async () => !(await admin.listTopics()).includes(topic))
  })
})
