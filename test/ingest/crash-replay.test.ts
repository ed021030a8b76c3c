import { describe, expect, it } from 'vitest'
import type { ChangeTopicConfig } from '../../ingest/changes/index.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { spawnIngest } from './fixtures/child-ingest.ts'
import { withoutSchema } from './fixtures/envelopes.ts'
import { committedOffsets, createTopic, produce, testBroker, unique } from './fixtures/kafka.ts'
import { committedFiles, readCommittedRows } from './fixtures/lake-readback.ts'

function events(from: number, count: number, partitions: number) {
  return Array.from({ length: count }, (_, i) => ({ partition: (from + i) % partitions, key: String(from + i), value: withoutSchema({ op: 'c', after: { id: from + i } }) }))
}

/** Every id in [0, total) exactly once, and per partition the offsets with no gap. */
async function expectExactlyOnce(lake: string, total: number): Promise<void> {
  const { rows } = await readCommittedRows(lake, 'items')
  const ids = rows.map((r) => Number(r.id)).sort((a, b) => a - b)
  expect(ids).toEqual(Array.from({ length: total }, (_, i) => i))
  const byPartition = new Map<number, number[]>()
  for (const row of rows) byPartition.set(Number(row._cp_partition), [...(byPartition.get(Number(row._cp_partition)) ?? []), Number(row._cp_offset)])
  for (const offsets of byPartition.values()) expect(offsets).toEqual(offsets.map((_, i) => i))
}

describe('exactly once across crashes', () => {
  it('a consumer killed between lake commit and offset commit, then restarted, lands every event once', async () => {
    const broker = await testBroker()
    const lake = await tempDir()
    const topic = unique('crash.items')
    const group = unique('g')
    const topics: ChangeTopicConfig[] = [{ topic, format: 'debezium', service: 'catalog', table: 'items', key: ['id'] }]
    await createTopic(broker, topic, 2)
    const total = 600
    await produce(broker, topic, events(0, total, 2), 50)

    const first = spawnIngest({ broker: broker.bootstrap, lake, group, topics, flushMaxRows: 40, crashAfterCommits: 3 })
    const crashed = await first.exited
    expect(crashed.signal).toBe('SIGKILL')
    // The third batch is in the lake but its offsets never reached Kafka.
    const landedBeforeCrash = (await readCommittedRows(lake, 'items')).rows.length
    const offsets = await committedOffsets(broker, group, topic)
    const committed = Object.values(offsets).reduce((sum, o) => sum + Math.max(0, o), 0)
    expect(landedBeforeCrash).toBeGreaterThan(committed)

    // Restarted with different batch sizes, so the replay does not align with the old boundaries.
    const second = spawnIngest({ broker: broker.bootstrap, lake, group, topics, flushMaxRows: 70 })
    await waitFor(async () => (await readCommittedRows(lake, 'items')).rows.length >= total, { timeoutMs: 45_000, message: 'all events landed after restart' })
    second.process.kill('SIGTERM')
    expect((await second.exited).code).toBe(0)
    await expectExactlyOnce(lake, total)
    const after = await committedOffsets(broker, group, topic)
    expect(after[0]! + after[1]!).toBe(total)
    expect((await committedFiles(lake, 'items')).length).toBeGreaterThan(3)
  })

  it('two consumers share a group; one is killed and the survivor takes over with an exact total', async () => {
    const broker = await testBroker()
    const lake = await tempDir()
    const topic = unique('group.items')
    const group = unique('g')
    const topics: ChangeTopicConfig[] = [{ topic, format: 'debezium', service: 'catalog', table: 'items', key: ['id'] }]
    await createTopic(broker, topic, 4)

    const survivor = spawnIngest({ broker: broker.bootstrap, lake, group, topics, flushMaxRows: 30 })
    await waitFor(() => survivor.assigned().length === 4, { timeoutMs: 30_000, message: 'first member owns all partitions' })
    const victim = spawnIngest({ broker: broker.bootstrap, lake, group, topics, flushMaxRows: 30, crashAfterCommits: 1 })
    await waitFor(() => victim.assigned().length === 2 && survivor.assigned().length === 2, { timeoutMs: 30_000, message: 'partitions shared' })

    await produce(broker, topic, events(0, 800, 4), 40)
    const killed = await victim.exited
    expect(killed.signal).toBe('SIGKILL')
    await waitFor(() => survivor.assigned().length === 4, { timeoutMs: 30_000, message: 'survivor took over' })
    await produce(broker, topic, events(800, 400, 4), 40)
    await waitFor(async () => (await readCommittedRows(lake, 'items')).rows.length >= 1200, { timeoutMs: 45_000, message: 'all events landed' })
    survivor.process.kill('SIGTERM')
    expect((await survivor.exited).code).toBe(0)
    await expectExactlyOnce(lake, 1200)
    const offsets = await committedOffsets(broker, group, topic)
    expect(Object.values(offsets).reduce((a, b) => a + b, 0)).toBe(1200)
  })

  it('a member joining mid-stream (a graceful rebalance) neither loses nor doubles events', async () => {
    const broker = await testBroker()
    const lake = await tempDir()
    const topic = unique('rebalance.items')
    const group = unique('g')
    const topics: ChangeTopicConfig[] = [{ topic, format: 'debezium', service: 'catalog', table: 'items', key: ['id'] }]
    await createTopic(broker, topic, 4)
    const first = spawnIngest({ broker: broker.bootstrap, lake, group, topics, flushMaxRows: 25 })
    await waitFor(() => first.assigned().length === 4, { timeoutMs: 30_000, message: 'first member owns all partitions' })
    await produce(broker, topic, events(0, 600, 4), 20)
    // Joins while the first member still has buffers and flushes in flight.
    const second = spawnIngest({ broker: broker.bootstrap, lake, group, topics, flushMaxRows: 25 })
    await waitFor(() => second.assigned().length === 2 && first.assigned().length === 2, { timeoutMs: 30_000, message: 'partitions shared' })
    await produce(broker, topic, events(600, 600, 4), 20)
    await waitFor(async () => (await readCommittedRows(lake, 'items')).rows.length >= 1200, { timeoutMs: 45_000, message: 'all events landed' })
    first.process.kill('SIGTERM')
    second.process.kill('SIGTERM')
    expect((await first.exited).code).toBe(0)
    expect((await second.exited).code).toBe(0)
    await expectExactlyOnce(lake, 1200)
  })
})
