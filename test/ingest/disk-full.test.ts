import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { Registry } from 'prom-client'
import { afterEach, describe, expect, it, onTestFinished } from 'vitest'
import { openDatabase, type Database } from '../../core/duckdb/index.ts'
import { ColdpipeError } from '../../core/errors.ts'
import { silentLogger } from '../../core/logger.ts'
import { BatchLander } from '../../ingest/changes/batch-lander.ts'
import type { ChangeRecord } from '../../ingest/changes/change-record.ts'
import type { ChangeTopicConfig } from '../../ingest/changes/changes-config.ts'
import { startChangeIngest } from '../../ingest/changes/index.ts'
import { CommitLog } from '../../lake/index.ts'
import { smallDisk } from '../helpers/small-disk.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { decimalBytes, orderFields, withSchema } from './fixtures/envelopes.ts'
import { committedOffsets, createTopic, produce, testBroker, unique } from './fixtures/kafka.ts'
import { capturedLogger } from './fixtures/captured-logger.ts'
import { readCommittedRows } from './fixtures/lake-readback.ts'

const dbs: Database[] = []
afterEach(() => {
  for (const db of dbs.splice(0)) db.close()
})

const topic: ChangeTopicConfig = { topic: 'shop.public.orders', format: 'debezium', service: 'ordering', table: 'orders', key: ['id'] }
const padding = 'p'.repeat(600)

function orderEnvelope(id: number): string {
  return withSchema(orderFields, {
    op: 'c',
    after: { id, status: `submitted ${padding}`, total: decimalBytes(BigInt(id) * 100n + 1n), order_date: 19_723, updated_at: 1_704_067_200_000_000 + id, paid_at: null, attrs: '{}', ref: null, big: id, gift: false, blob: null },
    lsn: 1_000 + id,
  })
}

function batchOf(from: number, count: number, withBadRecord: boolean): ChangeRecord[] {
  return Array.from({ length: count }, (_, i) => {
    const offset = from + i
    const bad = withBadRecord && i === 1
    return { topic: topic.topic, partition: 0, offset: String(offset), key: null, value: Buffer.from(bad ? '{broken' : orderEnvelope(offset)), headers: {}, timestamp: String(1_704_067_200_000 + offset) }
  })
}

/** Everything under the lake that is a scratch file, or a data file no commit adds (an orphan taking space). */
async function leftovers(lake: string): Promise<string[]> {
  const temps = (await readdir(join(lake, '_tmp'))).map((f) => `_tmp/${f}`)
  const log = await CommitLog.open(lake)
  const active = new Set(log.activeFiles().keys())
  const raw = await readdir(join(lake, 'raw'), { recursive: true }).catch(() => [] as string[])
  const orphans = raw.filter((f) => f.endsWith('.parquet')).map((f) => `raw/${f}`).filter((f) => !active.has(f))
  return [...temps, ...orphans]
}

describe('a full lake volume during change ingest', () => {
  it('fails each landing step with LAKE_DISK_FULL naming the path, leaves nothing behind, and lands once space is back', async () => {
    const disk = await smallDisk(16)
    const lake = join(disk.dir, 'lake')
    const db = await openDatabase(':memory:', { errorCode: 'INGEST_FAILED' })
    dbs.push(db)
    const log = await CommitLog.open(lake)
    const lander = new BatchLander([db], log, 'run-test', silentLogger)
    const steps = new Set<string>()
    let next = 0
    let landedRows = 0
    // Leave a little more room each time, so the disk fills up at a different step of the landing; the
    // commit needs a page more than the staging and Parquet files hold, so the fine steps find it.
    const coarse = [0, 2, 6, 12, 24, 40, 64, 96, 128].map((kib) => kib * 1024)
    const fine = Array.from({ length: 48 }, (_, i) => (128 + i) * 1024)
    for (const [i, leave] of [...coarse, ...fine].entries()) {
      if (i >= coarse.length && steps.has('commit')) break
      const batch = batchOf(next, 120, i % 2 === 1)
      next += batch.length
      const versionBefore = (await CommitLog.open(lake)).latestVersion
      await disk.fill(leave)
      let failure: unknown
      await lander.land(topic, 0, batch).catch((error: unknown) => (failure = error))
      if (failure) {
        expect(failure, `leave ${leave}: ${String(failure)}`).toBeInstanceOf(ColdpipeError)
        const error = failure as ColdpipeError
        expect(error.code, error.message).toBe('LAKE_DISK_FULL')
        expect(error.context.path).toEqual(expect.stringContaining(disk.dir))
        expect(error.message).toContain(String(error.context.path))
        steps.add(String(error.context.step))
        expect(await leftovers(lake)).toEqual([])
        // The previous lake state is intact: no new commit, and the log still opens.
        expect((await CommitLog.open(lake)).latestVersion).toBe(versionBefore)
      }
      await disk.free()
      const outcome = await lander.land(topic, 0, batch)
      landedRows += failure ? outcome.rows : 0
      expect(await leftovers(lake)).toEqual([])
    }
    expect(landedRows).toBeGreaterThan(0)
    // The disk filled up in more than one place of the landing (staging, Parquet, dead letters, commit).
    expect(steps.size, [...steps].join(',')).toBeGreaterThanOrEqual(2)
    const { rows } = await readCommittedRows(lake, 'orders')
    const offsets = rows.map((r) => Number(r._cp_offset))
    expect([...steps]).toEqual(expect.arrayContaining(['staging', 'dead-letters', 'parquet', 'commit']))
    const expected = Array.from({ length: next }, (_, o) => o).filter((o) => !(Math.floor(o / 120) % 2 === 1 && o % 120 === 1))
    expect(offsets).toEqual(expected)
  })

  it('ingest waits on a full disk without committing offsets, then lands every offset exactly once when space is freed', async () => {
    const disk = await smallDisk(24)
    const lake = join(disk.dir, 'lake')
    const broker = await testBroker()
    const name = unique('ordering.public.orders')
    const groupId = unique('g')
    await createTopic(broker, name, 2)
    const first = Array.from({ length: 200 }, (_, i) => ({ partition: i % 2, value: orderEnvelope(i) }))
    await produce(broker, name, first, 50)
    const registry = new Registry()
    const fatal: Error[] = []
    const { logger, lines } = capturedLogger()
    const ingest = await startChangeIngest({
      config: { brokers: [broker.bootstrap], groupId, topics: [{ ...topic, topic: name }], flushMaxRows: 40, flushMaxAgeMs: 100, landingRetryMaxDelayMs: 300, progressIntervalMs: 60_000 },
      lakeRoot: lake,
      logger,
      metrics: registry,
      onFatal: (error) => fatal.push(error),
    })
    onTestFinished(() => ingest.stop())
    await waitFor(() => ingest.stats().rowsLanded === 200, { timeoutMs: 30_000, message: 'first records landed' })
    const before = await CommitLog.open(lake)
    const filesBefore = [...before.activeFiles().keys()].sort()

    await disk.fill(0)
    const second = Array.from({ length: 200 }, (_, i) => ({ partition: i % 2, value: orderEnvelope(200 + i) }))
    await produce(broker, name, second, 50)
    await waitFor(() => ingest.stats().lastLandingError?.code === 'LAKE_DISK_FULL' && ingest.stats().blockedPartitions > 0, { timeoutMs: 30_000, message: 'landing reports the full disk' })
    const stats = ingest.stats()
    expect(stats.lastLandingError!.context.path).toEqual(expect.stringContaining(disk.dir))
    expect(stats.lastLandingError!.message).toContain(String(stats.lastLandingError!.context.path))
    expect(await registry.metrics()).toMatch(/coldpipe_ingest_landing_failures_total\{topic="[^"]+",code="LAKE_DISK_FULL"\} [1-9]/)
    expect(await registry.metrics()).toMatch(/coldpipe_ingest_landing_blocked [1-9]/)
    const logged = lines.find((l) => l.level === 50 && l.code === 'LAKE_DISK_FULL')
    expect(logged, 'an error log line').toMatchObject({ runId: ingest.runId, topic: name, path: expect.stringContaining(disk.dir) })
    await waitFor(() => ingest.stats().paused, { timeoutMs: 10_000, message: 'consumption paused while landing fails' })
    // Between attempts nothing is left in the scratch folder, and the lake is as it was.
    await waitFor(async () => (await readdir(join(lake, '_tmp'))).length === 0, { timeoutMs: 10_000, message: 'no temp files while blocked' })
    expect([...(await CommitLog.open(lake)).activeFiles().keys()].sort()).toEqual(filesBefore)
    // Offsets after durability: nothing past what the lake holds is committed to Kafka.
    const offsets = await committedOffsets(broker, groupId, name)
    expect(offsets[0]! + offsets[1]!).toBeLessThanOrEqual(200)
    expect(fatal).toEqual([])

    await disk.free()
    await waitFor(() => ingest.stats().rowsLanded === 400, { timeoutMs: 60_000, message: 'everything landed after space was freed' })
    await waitFor(async () => {
      const now = await committedOffsets(broker, groupId, name)
      return now[0]! + now[1]! === 400
    }, { timeoutMs: 20_000, message: 'offsets committed after landing' })
    expect(ingest.stats().blockedPartitions).toBe(0)
    await ingest.stop()
    expect(fatal).toEqual([])
    const { rows } = await readCommittedRows(lake, 'orders')
    const positions = rows.map((r) => `${r._cp_partition}:${r._cp_offset}`)
    expect(new Set(positions).size).toBe(400)
    expect(rows.map((r) => Number(r.id)).sort((a, b) => a - b)).toEqual(Array.from({ length: 400 }, (_, i) => i))
    expect(await leftovers(lake)).toEqual([])
  })
})
