import { spawn } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { describe, expect, it, onTestFinished } from 'vitest'
import { openDatabase, quoteLiteral } from '../../core/duckdb/index.ts'
import { silentLogger } from '../../core/logger.ts'
import { startChangeIngest } from '../../ingest/changes/index.ts'
import { eraseSubject, MaskingRules, PiiKey, registerMasking, unregisterMasking } from '../../ingest/pii/index.ts'
import { CommitLog } from '../../lake/index.ts'
import { SnapshotStore, warehouseDefaults, type WarehouseConfig } from '../../warehouse/index.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { withoutSchema, withSchema, type FieldSchema } from '../ingest/fixtures/envelopes.ts'
import { committedOffsets, createTopic, kafkaClient, testBroker, unique } from '../ingest/fixtures/kafka.ts'
import { testKeyText } from './pii-fixtures.ts'

const fields: FieldSchema[] = [
  { type: 'int32', optional: false, field: 'id' },
  { type: 'int32', optional: false, field: 'buyer_id' },
  { type: 'string', optional: true, field: 'status' },
]
const erased = 3
const buyers = 10

async function landedRows(lake: string): Promise<{ partition: number; offset: number; id: number; buyer: number }[]> {
  const log = await CommitLog.open(lake)
  const files = [...log.activeFiles().values()].filter((f) => f.table === 'orders_cdc').map((f) => quoteLiteral(log.layout.absolute(f.path)))
  const db = await openDatabase(':memory:')
  try {
    const rows = await db.all<{ p: number; o: bigint; id: number; b: number }>(
      `SELECT _cp_partition AS p, _cp_offset AS o, id, buyer_id AS b FROM read_parquet([${files.join(', ')}], union_by_name = true, hive_partitioning = false)`,
    )
    return rows.map((r) => ({ partition: Number(r.p), offset: Number(r.o), id: Number(r.id), buyer: Number(r.b) }))
  } finally {
    db.close()
  }
}

describe('erasure under load', () => {
  it('while change ingest lands and another process publishes, rows of other buyers land exactly once and none of the erased buyer stays', { timeout: 240_000 }, async () => {
    const lake = await tempDir()
    const warehouse: WarehouseConfig = { ...warehouseDefaults, path: join(await tempDir(), 'wh'), keepSnapshots: 3, pii: [], softDeletes: false }
    const rules = new MaskingRules([], PiiKey.fromText(testKeyText), {
      keyEnv: 'X', columns: [], erasureDeadlineDays: 30, erasureWarnDays: 7,
      subjects: { buyer: { keys: ['shop.orders_cdc.buyer_id'] } },
    })
    registerMasking(lake, rules)
    onTestFinished(() => unregisterMasking(lake))

    const broker = await testBroker()
    const topic = unique('shop.public.orders')
    await createTopic(broker, topic, 2)
    const producer = kafkaClient(broker).producer()
    await producer.connect()
    onTestFinished(() => producer.disconnect())
    const groupId = unique('g')
    const ingest = await startChangeIngest({
      config: { brokers: [broker.bootstrap], groupId, topics: [{ topic, format: 'debezium', service: 'shop', table: 'orders_cdc', key: ['id'] }], flushMaxRows: 40, flushMaxAgeMs: 100 },
      lakeRoot: lake,
      logger: silentLogger,
    })
    onTestFinished(() => ingest.stop())

    const publisher = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./fixtures/publish-loop.ts', import.meta.url)), lake, warehouse.path], { stdio: ['pipe', 'pipe', 'inherit'] })
    onTestFinished(() => { if (publisher.exitCode === null) publisher.kill('SIGKILL') })
    const published: string[] = []
    createInterface({ input: publisher.stdout! }).on('line', (line) => published.push(line))

    // Every 10th order is poison (no after row) and goes to the dead letters, with its buyer in the before image.
    let sent = 0
    const perPartition = [0, 0]
    const produceSome = async (n: number): Promise<void> => {
      const messages = []
      for (let i = 0; i < n; i++) {
        const id = ++sent
        const row = { id, buyer_id: id % buyers, status: 'new' }
        const value = id % 10 === 0 ? withoutSchema({ op: 'c', after: null, before: row }) : id % 2 ? withSchema(fields, { op: 'c', after: row }) : withoutSchema({ op: 'c', after: row })
        const partition = id % 2
        perPartition[partition]!++
        messages.push({ partition, key: JSON.stringify({ id }), value })
      }
      await producer.send({ topic, messages })
    }
    for (let i = 0; i < 20; i++) await produceSome(50)
    await waitFor(() => ingest.stats().rowsLanded > 500, { timeoutMs: 60_000 })
    await waitFor(() => published.some((l) => l.startsWith('published')), { timeoutMs: 60_000 })

    // The erasure runs while both keep going.
    let producing = true
    const background = (async () => {
      // Paced, so the run stays short on a loaded machine while landings keep overlapping the erasure.
      while (producing) {
        await produceSome(20)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    })()
    const receipt = await eraseSubject({ lakeRoot: lake, rules, subject: 'buyer', value: String(erased), warehouse, logger: silentLogger })
    for (let i = 0; i < 5; i++) await produceSome(50)
    producing = false
    await background
    await waitFor(async () => {
      const offsets = await committedOffsets(broker, groupId, topic)
      return offsets[0] === perPartition[0] && offsets[1] === perPartition[1]
    }, { timeoutMs: 120_000 })
    await ingest.stop()
    publisher.stdin!.end()
    await new Promise((resolve) => publisher.once('exit', resolve))
    expect(published.filter((l) => l.startsWith('error'))).toEqual([])

    // Exactly once for everyone else: every non-poison order of another buyer, once; none of the erased buyer.
    const rows = await landedRows(lake)
    const expected = Array.from({ length: sent }, (_, i) => i + 1).filter((id) => id % 10 !== 0 && id % buyers !== erased)
    expect(rows.filter((r) => r.buyer === erased)).toEqual([])
    expect(rows.map((r) => r.id).sort((a, b) => a - b)).toEqual(expected)
    expect(new Set(rows.map((r) => `${r.partition}:${r.offset}`)).size).toBe(rows.length)
    expect(receipt.lake.rowsRemoved['shop.orders_cdc']).toBeGreaterThan(0)

    // Dead letters: the erased buyer's are gone, the others' all there.
    const deadDir = join(lake, '_dead', 'shop', 'orders_cdc')
    const letters: { payload: string }[] = []
    for (const name of (await readdir(deadDir, { recursive: true })).filter((n) => String(n).endsWith('.ndjson'))) {
      letters.push(...(await readFile(join(deadDir, String(name)), 'utf8')).trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)))
    }
    const deadBuyers = letters.map((l) => (JSON.parse(l.payload) as { before: { buyer_id: number; id: number } }).before)
    expect(deadBuyers.filter((b) => b.buyer_id === erased)).toEqual([])
    expect(deadBuyers.map((b) => b.id).sort((a, b) => a - b)).toEqual(Array.from({ length: sent }, (_, i) => i + 1).filter((id) => id % 10 === 0 && id % buyers !== erased))

    // The snapshot the erasure published, and whatever was published after it, hold none of the buyer's rows.
    const store = new SnapshotStore(warehouse.path)
    expect(Math.min(...(await store.list()))).toBeGreaterThanOrEqual(receipt.warehouse!.snapshotPublished)
    const { db } = await store.openReadOnly()
    onTestFinished(() => db.close())
    const [row] = await db.all<{ n: bigint }>(`SELECT count(*) AS n FROM shop.orders_cdc WHERE buyer_id = ${erased}`)
    expect(Number(row!.n)).toBe(0)
  })
})
