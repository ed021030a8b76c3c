import { describe, expect, it } from 'vitest'
import { connectAdmin, connectProducer, kafkaFor, kcat, runConsumer, startTestBroker, uniqueName, waitFor } from './helpers.ts'

// librdkafka (through kcat) negotiates versions differently from kafkajs: it opens with a flexible
// ApiVersions v3 and needs Produce v3 / Fetch v4 advertised before it will use RecordBatch v2.
describe('dev broker with kcat (librdkafka)', () => {
  it('lists topics with -L', async () => {
    const broker = await startTestBroker()
    const admin = await connectAdmin(kafkaFor(broker))
    const topic = uniqueName('listed')
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] })
    const result = await kcat(['-b', broker.bootstrap, '-L'])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain(`topic "${topic}" with 3 partitions`)
  })

  it('delivers kcat -P messages to kafkajs, keys included', async () => {
    const broker = await startTestBroker()
    const topic = uniqueName('from-kcat')
    const input = Array.from({ length: 100 }, (_, i) => `key${i}:value ${i}`).join('\n')
    const produced = await kcat(['-b', broker.bootstrap, '-P', '-t', topic, '-K', ':', '-z', 'gzip'], input)
    expect(produced.code, produced.stderr).toBe(0)
    const consumer = await runConsumer(kafkaFor(broker), topic, { groupId: uniqueName('g') })
    await waitFor(() => consumer.messages.length === 100)
    expect(consumer.messages[42]).toMatchObject({ key: 'key42', value: 'value 42' })
  })

  it('lets kcat -C -e read what kafkajs produced, across partitions', async () => {
    const broker = await startTestBroker()
    const kafka = kafkaFor(broker)
    const admin = await connectAdmin(kafka)
    const topic = uniqueName('to-kcat')
    await admin.createTopics({ topics: [{ topic, numPartitions: 4 }] })
    const producer = await connectProducer(kafka)
    await producer.send({ topic, messages: Array.from({ length: 500 }, (_, i) => ({ key: `k${i}`, value: `m${i}` })) })
    const result = await kcat(['-b', broker.bootstrap, '-C', '-t', topic, '-e', '-o', 'beginning', '-q', '-f', '%k=%s\\n'])
    expect(result.code, result.stderr).toBe(0)
    const lines = result.stdout.trim().split('\n')
    expect(lines).toHaveLength(500)
    expect(new Set(lines)).toContain('k123=m123')
  })
})
