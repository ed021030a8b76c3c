import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openDatabase, type Database } from '../../core/duckdb/index.ts'
import { isColdpipeError } from '../../core/errors.ts'
import { silentLogger } from '../../core/logger.ts'
import { BatchLander } from '../../ingest/changes/batch-lander.ts'
import type { ChangeRecord } from '../../ingest/changes/change-record.ts'
import type { ChangeTopicConfig } from '../../ingest/changes/changes-config.ts'
import { CommitLog } from '../../lake/index.ts'
import { compact, publish, type SnapshotStore } from '../../warehouse/index.ts'
import type { WarehouseConfig } from '../../warehouse/warehouse-config.ts'
import { testExporter } from '../export/export-fixtures.ts'
import { commitExport } from '../helpers/lake-fixtures.ts'
import { postgresSchema } from '../helpers/databases.ts'
import { orderFields, withSchema } from '../ingest/fixtures/envelopes.ts'
import { query, setup } from './warehouse-setup.ts'

const dbs: Database[] = []
afterEach(() => {
  for (const db of dbs.splice(0)) db.close()
})

async function activeCount(lakeRoot: string, table: string): Promise<number> {
  const log = await CommitLog.open(lakeRoot)
  return [...log.activeFiles().values()].filter((f) => `${f.service}.${f.table}` === table).length
}

/** Current state and history of a table, every column, in a stable order. */
async function tableState(store: SnapshotStore, table: string): Promise<unknown[]> {
  return [await query(store, `SELECT * FROM ${table} ORDER BY ALL`), await query(store, `SELECT * FROM ${table}__history ORDER BY ALL`)]
}

/**
 * The property every kind must keep: publish, compact, publish again, and a fresh warehouse built from the
 * compacted lake alone, all give the same current state and __history, from fewer files.
 */
async function expectCompactionPreserves(lakeRoot: string, warehouse: WarehouseConfig, store: SnapshotStore, table: string, expectAfter = 1) {
  expect((await publish({ lakeRoot, warehouse })).published).toBe(true)
  const before = await tableState(store, table)
  const filesBefore = await activeCount(lakeRoot, table)
  expect(filesBefore).toBeGreaterThan(3)
  const result = await compact({ lakeRoot, config: { minFiles: 2 }, logger: silentLogger })
  expect(result.tables).toEqual([expect.objectContaining({ table, filesIn: filesBefore, filesOut: expectAfter, activeFiles: expectAfter })])
  expect(await activeCount(lakeRoot, table)).toBe(expectAfter)
  expect(result.activeFiles[table]).toBe(expectAfter)
  const again = await publish({ lakeRoot, warehouse, force: true })
  expect(again.published).toBe(true)
  expect(await tableState(store, table)).toEqual(before)
  const fresh = await setup()
  expect((await publish({ lakeRoot, warehouse: fresh.warehouse })).published).toBe(true)
  expect(await tableState(fresh.store, table)).toEqual(before)
  return before
}

function lander(lakeRoot: string): Promise<BatchLander> {
  return (async () => {
    const db = await openDatabase(':memory:', { errorCode: 'INGEST_FAILED' })
    dbs.push(db)
    return new BatchLander([db], await CommitLog.open(lakeRoot), 'run-test', silentLogger)
  })()
}

function record(topic: string, partition: number, offset: number, value: string): ChangeRecord {
  return { topic, partition, offset: String(offset), key: null, value: Buffer.from(value), headers: { origin: 'test' }, timestamp: String(1_704_067_200_000 + offset) }
}

describe('compaction keeps what publish computes, for every kind of table', () => {
  it('incremental exports (real Postgres, one small file per run): rows keep their run order after compaction', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.orders (id bigint PRIMARY KEY, status text, updated_at timestamptz NOT NULL)`)
    await client.query(`INSERT INTO ${schema}.orders SELECT g, 'new', '2026-01-01'::timestamptz + g * interval '1 second' FROM generate_series(1, 300) g`)
    const { lakeRoot, warehouse, store } = await setup()
    const exporter = testExporter({ sources: { ordering: { kind: 'postgres', url, schema } }, lakeRoot })
    const exportConfig = { source: 'ordering', timezone: 'UTC', tables: [{ name: 'orders', mode: 'incremental' as const, cursor: 'updated_at', key: ['id'], lagSeconds: 0, chunkRows: 100 }] }
    await exporter.runExport(exportConfig, { runId: 'r0' })
    // Each later run updates some rows (a key appears in several runs: the latest run must win).
    for (let run = 1; run <= 5; run++) {
      await client.query(`UPDATE ${schema}.orders SET status = 'run${run}', updated_at = '2026-02-01'::timestamptz + ${run} * interval '1 hour' WHERE id % ${run + 1} = 0`)
      await exporter.runExport(exportConfig, { runId: `r${run}` })
    }
    const before = await expectCompactionPreserves(lakeRoot, warehouse, store, 'ordering.orders')
    expect(before[0]).toHaveLength(300)
    // A run after compaction still wins over the compacted versions of the same keys.
    await client.query(`UPDATE ${schema}.orders SET status = 'late', updated_at = '2026-03-01' WHERE id IN (6, 60)`)
    await exporter.runExport(exportConfig, { runId: 'r6' })
    await publish({ lakeRoot, warehouse })
    expect(await query(store, `SELECT id::INT AS id, status FROM ordering.orders WHERE id IN (6, 7, 60) ORDER BY id`)).toEqual([
      { id: 6, status: 'late' },
      { id: 7, status: 'new' },
      { id: 60, status: 'late' },
    ])
    expect(await query(store, `SELECT count(*)::INT AS n FROM ordering.orders WHERE status = 'run5'`)).toEqual([{ n: 50 - 2 }])
  })

  it('full exports (real Postgres, many parts per run): the compacted run is replaced by the next full run', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.items (id bigint PRIMARY KEY, name text)`)
    await client.query(`INSERT INTO ${schema}.items SELECT g, 'item ' || g FROM generate_series(1, 500) g`)
    const { lakeRoot, warehouse, store } = await setup()
    const exporter = testExporter({ sources: { catalog: { kind: 'postgres', url, schema } }, lakeRoot })
    const exportConfig = { source: 'catalog', timezone: 'UTC', tables: [{ name: 'items', mode: 'full' as const, key: ['id'], lagSeconds: 0, chunkRows: 50 }] }
    await exporter.runExport(exportConfig, { runId: 'f1' })
    const before = await expectCompactionPreserves(lakeRoot, warehouse, store, 'catalog.items')
    expect(before[0]).toHaveLength(500)
    await client.query(`DELETE FROM ${schema}.items WHERE id > 100`)
    await exporter.runExport(exportConfig, { runId: 'f2' })
    expect(await activeCount(lakeRoot, 'catalog.items')).toBe(2)
    await publish({ lakeRoot, warehouse })
    expect(await query(store, 'SELECT count(*)::INT AS n FROM catalog.items')).toEqual([{ n: 100 }])
    expect(await query(store, 'SELECT count(*)::INT AS n FROM catalog.items__history')).toEqual([{ n: 100 }])
  })

  it('CDC change history (Debezium, through the batch lander): deletes, updates and source order survive', async () => {
    const { lakeRoot, warehouse, store } = await setup()
    const writer = await lander(lakeRoot)
    const topic: ChangeTopicConfig = { topic: 'shop.public.orders', format: 'debezium', service: 'ordering', table: 'orders', key: ['id'] }
    let offset = 0
    for (let batch = 0; batch < 8; batch++) {
      const records: ChangeRecord[] = []
      for (let i = 0; i < 25; i++, offset++) {
        const id = (offset * 7) % 40
        const op = offset % 9 === 0 ? 'd' : offset < 40 ? 'c' : 'u'
        const row = { id, status: `s${offset}` }
        records.push(record(topic.topic, batch % 2, offset, withSchema(orderFields, { op, before: op === 'd' ? row : null, after: op === 'd' ? null : row, lsn: 1000 + offset })))
      }
      await writer.land(topic, batch % 2, records)
    }
    const before = await expectCompactionPreserves(lakeRoot, warehouse, store, 'ordering.orders')
    expect((before[1] as unknown[]).length).toBe(200)
  })

  it('integration events (no key, no _cp_source_pos, through the batch lander): every event kept once', async () => {
    const { lakeRoot, warehouse, store } = await setup()
    const writer = await lander(lakeRoot)
    const topic: ChangeTopicConfig = { topic: 'ordering.events', format: 'integration-event', service: 'ordering' }
    let offset = 0
    for (let batch = 0; batch < 6; batch++) {
      const records: ChangeRecord[] = []
      for (let i = 0; i < 10; i++, offset++) {
        const event = { eventId: `e${offset}`, eventType: offset % 2 ? 'OrderPaid' : 'OrderSubmitted', occurredAt: new Date(1_704_067_200_000 + offset * 1000).toISOString(), payload: { orderId: offset % 7 } }
        records.push(record(topic.topic, 0, offset, JSON.stringify(event)))
      }
      await writer.land(topic, 0, records)
    }
    const before = await expectCompactionPreserves(lakeRoot, warehouse, store, 'ordering.events')
    expect(before[0]).toHaveLength(60)
  })

  it('a full export run committed while a compaction of its table is under way wins: the compaction commits nothing and leaves no file', async () => {
    const { lakeRoot, warehouse, store } = await setup()
    await commitExport(lakeRoot, { service: 'catalog', table: 'items', mode: 'full', parts: ['SELECT 1 AS id', 'SELECT 2 AS id', 'SELECT 3 AS id'] })
    const error = await compact({
      lakeRoot,
      config: { minFiles: 2 },
      failpoint: async () => {
        await commitExport(lakeRoot, { service: 'catalog', table: 'items', mode: 'full', parts: ['SELECT 10 AS id'] })
      },
    }).then(() => undefined, (e: unknown) => e)
    expect(isColdpipeError(error, 'LAKE_COMMIT_CONFLICT')).toBe(true)
    expect(await activeCount(lakeRoot, 'catalog.items')).toBe(1)
    expect(await readdir(join(lakeRoot, 'compacted', 'catalog', 'items')).catch(() => [])).toEqual([])
    await publish({ lakeRoot, warehouse })
    expect(await query(store, 'SELECT id FROM catalog.items')).toEqual([{ id: 10 }])
    // The next compaction finds nothing to merge (one file) and succeeds.
    expect((await compact({ lakeRoot, config: { minFiles: 2 } })).tables).toEqual([])
  })
})
