import { describe, expect, it } from 'vitest'
import { startDevBroker } from '../../dev-broker/index.ts'
import { brokerLogger, connectAdmin, connectProducer, kafkaFor, runConsumer, startTestBroker, tempDir, uniqueName, waitFor } from './helpers.ts'

describe('dev broker persistence', () => {
  it('keeps topics, logs and committed offsets across a restart on the same port', async () => {
    const dataDir = await tempDir('dev-broker-')
    const first = await startDevBroker({ port: 0, dataDir, logger: brokerLogger })
    const topic = uniqueName('durable')
    const groupId = uniqueName('g')
    const port = first.port
    try {
      const kafka = kafkaFor(first)
      const admin = kafka.admin()
      await admin.connect()
      await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] })
      await admin.disconnect()
      const producer = kafka.producer()
      await producer.connect()
      await producer.send({ topic, messages: [{ partition: 0, value: 'a' }, { partition: 1, value: 'b' }] })
      await producer.disconnect()
      const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200 })
      await consumer.connect()
      await consumer.subscribe({ topic, fromBeginning: true })
      let seen = 0
      await consumer.run({ autoCommitInterval: 50, eachMessage: async () => void seen++ })
      await waitFor(() => seen === 2)
      await consumer.disconnect()
    } finally {
      await first.close()
    }

    const second = await startTestBroker({ port, dataDir })
    expect(second.port).toBe(port)
    const kafka = kafkaFor(second)
    const admin = await connectAdmin(kafka)
    expect(await admin.listTopics()).toContain(topic)
    const offsets = await admin.fetchTopicOffsets(topic)
    expect(offsets.map((p) => p.high).sort()).toEqual(['1', '1'])
    const committed = await admin.fetchOffsets({ groupId, topics: [topic] })
    expect(committed[0]!.partitions.map((p) => p.offset)).toEqual(['1', '1'])

    const producer = await connectProducer(kafka)
    await producer.send({ topic, messages: [{ partition: 0, value: 'c' }] })
    const resumed = await runConsumer(kafka, topic, { groupId })
    await waitFor(() => resumed.messages.length === 1)
    expect(resumed.messages[0]).toMatchObject({ partition: 0, offset: '1', value: 'c' })
    const fresh = await runConsumer(kafka, topic, { groupId: uniqueName('g') })
    await waitFor(() => fresh.messages.length === 3)
  })

  it('drops the oldest batches past the retention budget, in memory and after a restart', async () => {
    const dataDir = await tempDir('dev-broker-')
    const options = { port: 0, dataDir, retentionBytesPerPartition: 64 * 1024, logger: brokerLogger }
    const first = await startDevBroker(options)
    const topic = uniqueName('retained')
    const value = 'x'.repeat(8 * 1024)
    let lowBefore: string
    try {
      const kafka = kafkaFor(first)
      const producer = kafka.producer()
      await producer.connect()
      for (let i = 0; i < 40; i++) await producer.send({ topic, messages: [{ value: `${i}:${value}` }] })
      await producer.disconnect()
      const admin = kafka.admin()
      await admin.connect()
      const [partition] = await admin.fetchTopicOffsets(topic)
      await admin.disconnect()
      expect(partition!.high).toBe('40')
      expect(Number(partition!.low)).toBeGreaterThan(20)
      lowBefore = partition!.low
    } finally {
      await first.close()
    }

    const second = await startTestBroker({ ...options, port: first.port })
    const kafka = kafkaFor(second)
    const admin = await connectAdmin(kafka)
    const [partition] = await admin.fetchTopicOffsets(topic)
    expect(partition).toMatchObject({ low: lowBefore, high: '40' })
    const consumer = await runConsumer(kafka, topic, { groupId: uniqueName('g') })
    await waitFor(() => consumer.messages.length === 40 - Number(lowBefore))
    expect(consumer.messages[0]!.offset).toBe(lowBefore)
  })
})
