import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it, onTestFinished } from 'vitest'
import { connectAdmin, connectProducer, kafkaFor, runConsumer, startTestBroker, uniqueName, waitFor } from './helpers.ts'

const memberScript = fileURLToPath(new URL('./fixtures/group-member.ts', import.meta.url))

/** A group member in a child process; `assigned` holds its latest assignment. */
function spawnMember(bootstrap: string, topic: string, groupId: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', memberScript, bootstrap, topic, groupId], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  onTestFinished(() => {
    child.kill('SIGKILL')
  })
  const state = { assigned: null as number[] | null, child }
  let pending = ''
  child.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString()
    const lines = pending.split('\n')
    pending = lines.pop()!
    for (const line of lines) {
      const event = JSON.parse(line) as { event: string; partitions?: number[] }
      if (event.event === 'assigned') state.assigned = [...event.partitions!].sort((a, b) => a - b)
    }
  })
  return state
}

describe('dev broker consumer groups', () => {
  it('splits partitions between members and hands a killed member\'s share over after its session timeout', async () => {
    const broker = await startTestBroker()
    const kafka = kafkaFor(broker)
    const admin = await connectAdmin(kafka)
    const topic = uniqueName('split')
    const groupId = uniqueName('g')
    await admin.createTopics({ topics: [{ topic, numPartitions: 4 }] })

    const doomed = spawnMember(broker.bootstrap, topic, groupId)
    await waitFor(() => doomed.assigned?.length === 4, 15_000, 'first member owns all partitions')
    const survivor = await runConsumer(kafka, topic, { groupId })
    await waitFor(
      () => survivor.assigned().length === 2 && doomed.assigned?.length === 2,
      15_000,
      'partitions split between the two members',
    )
    expect([...survivor.assigned(), ...doomed.assigned!].sort()).toEqual([0, 1, 2, 3])

    // No LeaveGroup: the broker only learns from the missing heartbeats.
    doomed.child.kill('SIGKILL')
    await waitFor(() => survivor.assigned().length === 4, 20_000, 'survivor takes over after the session timeout')

    const producer = await connectProducer(kafka)
    await producer.send({ topic, messages: [0, 1, 2, 3].map((partition) => ({ partition, value: `p${partition}` })) })
    await waitFor(() => survivor.messages.length === 4)
    const description = await admin.describeGroups([groupId])
    expect(description.groups[0]).toMatchObject({ state: 'Stable' })
    expect(description.groups[0]!.members).toHaveLength(1)
  })

  it('resumes from committed offsets when a consumer restarts', async () => {
    const broker = await startTestBroker()
    const kafka = kafkaFor(broker)
    const topic = uniqueName('resume')
    const groupId = uniqueName('g')
    const producer = await connectProducer(kafka)
    await producer.send({ topic, messages: [{ value: 'a' }, { value: 'b' }, { value: 'c' }] })

    const first = await runConsumer(kafka, topic, { groupId })
    await waitFor(() => first.messages.length === 3)
    const admin = await connectAdmin(kafka)
    await waitFor(async () => (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]!.partitions[0]!.offset === '3')
    await first.stop()

    await producer.send({ topic, messages: [{ value: 'd' }, { value: 'e' }] })
    const second = await runConsumer(kafka, topic, { groupId })
    await waitFor(() => second.messages.length === 2)
    expect(second.messages.map((m) => m.value)).toEqual(['d', 'e'])
    expect((await admin.listGroups()).groups.map((g) => g.groupId)).toContain(groupId)
  })
})
