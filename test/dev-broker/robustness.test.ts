import { describe, expect, it } from 'vitest'
import { encodeRecordBatch } from '../../dev-broker/index.ts'
import { PartitionLog } from '../../dev-broker/src/log/partition-log.ts'
import { waitForAppend } from '../../dev-broker/src/apis/fetch/wait-for-append.ts'
import { Writer } from '../../dev-broker/src/protocol/writer.ts'
import { connectAdmin, connectProducer, kafkaFor, rawExchange, requestFrame, runConsumer, startTestBroker, uniqueName, waitFor } from './helpers.ts'

const UNSUPPORTED_VERSION = 35

function readResponses(data: Buffer): { correlationId: number; body: Buffer }[] {
  const out: { correlationId: number; body: Buffer }[] = []
  for (let at = 0; at + 4 <= data.length; ) {
    const size = data.readInt32BE(at)
    out.push({ correlationId: data.readInt32BE(at + 4), body: data.subarray(at + 8, at + 4 + size) })
    at += 4 + size
  }
  return out
}

async function expectOtherClientsWork(bootstrap: string): Promise<void> {
  const kafka = kafkaFor(bootstrap)
  const topic = uniqueName('still-fine')
  const producer = await connectProducer(kafka)
  await producer.send({ topic, messages: [{ value: 'ok' }] })
  const consumer = await runConsumer(kafka, topic, { groupId: uniqueName('g') })
  await waitFor(() => consumer.messages.length === 1)
}

describe('dev broker robustness', () => {
  it('answers an unknown api key and an unsupported version with UNSUPPORTED_VERSION and keeps the connection', async () => {
    const broker = await startTestBroker()
    const payload = Buffer.concat([requestFrame(999, 0, 7), requestFrame(0, 99, 8), requestFrame(18, 0, 9)])
    const { data, closed } = await rawExchange(broker.port, payload, 500)
    expect(closed).toBe(false)
    const responses = readResponses(data)
    expect(responses.map((r) => r.correlationId)).toEqual([7, 8, 9])
    expect(responses[0]!.body.readInt16BE(0)).toBe(UNSUPPORTED_VERSION)
    expect(responses[1]!.body.readInt16BE(0)).toBe(UNSUPPORTED_VERSION)
    expect(responses[2]!.body.readInt16BE(0)).toBe(0)
  })

  it('answers a flexible ApiVersions v3 request with a v0 error response listing the versions', async () => {
    const broker = await startTestBroker()
    // v3 uses request header v2 (tagged fields) and a compact body; the broker must not need to parse it.
    const body = Buffer.from([0x00, 0x05, 0x74, 0x65, 0x73, 0x74, 0x03, 0x31, 0x2e, 0x30, 0x00])
    const { data } = await rawExchange(broker.port, requestFrame(18, 3, 1, body), 500)
    const [response] = readResponses(data)
    expect(response!.body.readInt16BE(0)).toBe(UNSUPPORTED_VERSION)
    const count = response!.body.readInt32BE(2)
    const keys = Array.from({ length: count }, (_, i) => response!.body.readInt16BE(6 + i * 6))
    expect(keys).toContain(18)
    expect(keys).toContain(0)
  })

  it('closes only the connection that sends an oversized or malformed frame', async () => {
    const broker = await startTestBroker()
    const oversized = Buffer.alloc(8)
    oversized.writeInt32BE(0x7fffffff, 0)
    expect((await rawExchange(broker.port, oversized)).closed).toBe(true)

    const tooSmall = Buffer.from([0, 0, 0, 2, 0, 1])
    expect((await rawExchange(broker.port, tooSmall)).closed).toBe(true)

    // Metadata v1 claiming a million topic names in a four-byte body.
    const lying = Buffer.alloc(4)
    lying.writeInt32BE(1_000_000, 0)
    expect((await rawExchange(broker.port, requestFrame(3, 1, 1, lying))).closed).toBe(true)

    await expectOtherClientsWork(broker.bootstrap)
  })

  it('rejects a record batch whose CRC-32C does not match', async () => {
    const broker = await startTestBroker()
    const batch = encodeRecordBatch([{ key: null, value: Buffer.from('v'), timestamp: Date.now(), headers: [], offsetDelta: 0 }])
    batch[batch.length - 1]! ^= 0xff
    const body = new Writer()
      .nullableString(null)
      .int16(1)
      .int32(1000)
      .array([uniqueName('crc')], (w, topic) => w.string(topic).array([0], (pw, p) => pw.int32(p).bytes(batch)))
      .toBuffer()
    const { data } = await rawExchange(broker.port, requestFrame(0, 3, 5, body), 500)
    const [response] = readResponses(data)
    const reader = response!.body
    const topicLength = reader.readInt16BE(4)
    const errorCode = reader.readInt16BE(4 + 2 + topicLength + 4 + 4)
    expect(errorCode).toBe(2) // CORRUPT_MESSAGE
  })

  it('forgets a member whose connection drops while its JoinGroup is parked', async () => {
    const broker = await startTestBroker()
    const kafka = kafkaFor(broker)
    const topic = uniqueName('join-drop')
    const groupId = uniqueName('g')
    const member = await runConsumer(kafka, topic, { groupId })
    await waitFor(() => member.assigned().length === 1)

    // A second member's join parks until the first rejoins; hang up before that happens.
    const join = new Writer()
      .string(groupId)
      .int32(6000)
      .int32(30_000)
      .string('')
      .string('consumer')
      .array(['RoundRobinAssigner'], (w, name) => w.string(name).bytes(Buffer.alloc(0)))
      .toBuffer()
    const { data } = await rawExchange(broker.port, requestFrame(11, 1, 3, join), 50)
    expect(data.length).toBe(0)

    const admin = await connectAdmin(kafka)
    await waitFor(async () => {
      const { groups } = await admin.describeGroups([groupId])
      return groups[0]!.state === 'Stable' && groups[0]!.members.length === 1
    }, 5000, 'group settles without waiting out the 30 s rebalance timeout')
  })

  it('unregisters a parked long-poll fetch when its client goes away', async () => {
    const log = new PartitionLog('t', 0, 1024 * 1024, null)
    const abort = new AbortController()
    const parked = waitForAppend([log], 60_000, abort.signal)
    expect(log.waiting).toBe(1)
    abort.abort()
    await parked
    expect(log.waiting).toBe(0)
  })
})
