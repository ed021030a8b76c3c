import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { ReconcileConfig } from '../../warehouse/reconcile/index.ts'
import { cacheDir, type KeptSegment } from '../../warehouse/reconcile/segment-cache.ts'
import { absoluteIn } from '../../warehouse/table-files.ts'
import { mysqlDatabase, postgresSchema } from '../helpers/databases.ts'
import { pipeline, reconcileCountingSegments, sourceConfig, type Pipeline } from './reconcile-fixtures.ts'

// 500-key segments over 30,000 keys: about 60 of them, so a few changed keys leave most untouched.
const settings: Partial<ReconcileConfig> = { segmentRows: 500, leafRows: 64, fanOut: 16, lagSeconds: 0, maxReportedKeys: 50 }

/** Reconciles, returning the result, the warehouse segments carried forward and computed, and the kept segments. */
async function run(p: Pipeline, source: string, table: string) {
  const outcome = await reconcileCountingSegments(p, settings)
  const file = JSON.parse(await readFile(join(cacheDir(p.warehouse.path), `${source}.${table}.json`), 'utf8')) as { segments: { entries: KeptSegment[] } }
  return { ...outcome, kept: file.segments.entries }
}

/** Kept segments as computed from nothing: what carried-forward segments must equal. */
async function recomputed(p: Pipeline, source: string, table: string) {
  await rm(cacheDir(p.warehouse.path), { recursive: true, force: true })
  const r = await run(p, source, table)
  expect(r.carried).toBe(0)
  return r.kept
}

describe('warehouse segments carried forward across table states (merge-on-read deltas)', () => {
  it('PostgreSQL, ordered checksums: only the segments of changed keys are computed again, with the same result as a full recompute', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.items (id int PRIMARY KEY, v text, price numeric(10,2), updated_at timestamptz NOT NULL)`)
    await client.query(`CREATE INDEX ON ${schema}.items (updated_at)`)
    await client.query(`INSERT INTO ${schema}.items SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE 'v' || g END, g / 100.0, '2026-01-01'::timestamptz + g * interval '1 second' FROM generate_series(1, 30000) g`)
    const p = await pipeline({ shop: sourceConfig('postgres', url, schema) }, [{ source: 'shop', timezone: 'UTC', tables: [{ name: 'items', mode: 'incremental', cursor: 'updated_at', key: ['id'], lagSeconds: 0, chunkRows: 100_000 }] }])
    await p.load()
    const first = await run(p, 'shop', 'items')
    expect(first.result).toMatchObject({ status: 'match', counts: { sourceRows: 30_000 } })
    expect(first.carried).toBe(0)

    // Three rows changed and two added through the incremental export (a delta file), and one row changed at the
    // source without moving its cursor, in a segment no export touched: what reconcile must still find.
    await client.query(`UPDATE ${schema}.items SET v = 'changed', updated_at = now() WHERE id IN (1000, 15000, 29000)`)
    await client.query(`INSERT INTO ${schema}.items VALUES (30001, 'new', 1, now()), (30002, NULL, 2, now())`)
    await p.load()
    await client.query(`UPDATE ${schema}.items SET price = price + 1 WHERE id = 12345`)
    const after = await run(p, 'shop', 'items')
    expect(after.result.status).toBe('mismatch')
    expect(after.result.different).toEqual([{ key: { id: '12345' }, columns: ['price'] }])
    expect(after.result.missingCount + after.result.extraCount).toBe(0)
    // Segments [1000, 1499], [15000, 15499], [29000, 29499] and [30000, 30499] hold the changed keys.
    expect(after.computed).toBe(4)
    expect(after.carried).toBe(after.kept.length - 4)
    expect(after.carried).toBeGreaterThan(50)
    expect(after.kept).toEqual(await recomputed(p, 'shop', 'items'))

    // A row changed at the source after the export is too new: its key is excluded in the warehouse, which
    // changes only its own segment's aggregate.
    await client.query(`UPDATE ${schema}.items SET v = 'later', updated_at = now() + interval '1 hour' WHERE id = 20000`)
    const tooNew = await run(p, 'shop', 'items')
    expect(tooNew.result).toMatchObject({ status: 'mismatch', counts: { tooNewRows: 1 }, different: [{ key: { id: '12345' }, columns: ['price'] }] })
    expect(tooNew.computed).toBe(1)
    const again = await run(p, 'shop', 'items')
    expect(again.computed).toBe(0)
    expect(again.kept).toEqual(await recomputed(p, 'shop', 'items'))
  }, 180_000)

  it('MariaDB, per-row sums: a delta changes only its segments; the carried result equals a full recompute', async () => {
    const { connection, database, url } = await mysqlDatabase()
    await connection.query(`CREATE TABLE ${database}.nums (id bigint PRIMARY KEY, v varchar(20), updated_at datetime(6) NOT NULL, KEY (updated_at))`)
    await connection.query(`INSERT INTO ${database}.nums SELECT seq, CONCAT('v', seq), TIMESTAMPADD(SECOND, seq, '2026-01-01') FROM seq_1_to_30000`)
    const p = await pipeline({ bank: sourceConfig('mysql', url) }, [{ source: 'bank', timezone: 'UTC', tables: [{ name: 'nums', mode: 'incremental', cursor: 'updated_at', key: ['id'], lagSeconds: 0, chunkRows: 100_000 }] }])
    await p.load()
    expect((await run(p, 'bank', 'nums')).result).toMatchObject({ status: 'match', counts: { sourceRows: 30_000 } })
    await connection.query(`UPDATE ${database}.nums SET v = 'changed', updated_at = NOW(6) WHERE id IN (2500, 22222)`)
    await p.load()
    await connection.query(`UPDATE ${database}.nums SET v = 'silent' WHERE id = 7777`)
    const after = await run(p, 'bank', 'nums')
    expect(after.result.different).toEqual([{ key: { id: '7777' }, columns: ['v'] }])
    expect(after.computed).toBe(2)
    expect(after.kept).toEqual(await recomputed(p, 'bank', 'nums'))

    // The delta file the kept segments were computed over is gone (retention) by the next run: nothing can be told
    // about which segments changed, so every one is computed again, and the silent difference is still found.
    const keptFile = join(cacheDir(p.warehouse.path), 'bank.nums.json')
    const { delta } = (JSON.parse(await readFile(keptFile, 'utf8')) as { segments: { delta: string | null } }).segments
    expect(delta).not.toBeNull()
    await connection.query(`UPDATE ${database}.nums SET v = 'changed again', updated_at = NOW(6) WHERE id = 15000`)
    await p.load()
    await rm(absoluteIn(p.warehouse.path, delta!))
    const afterRetention = await run(p, 'bank', 'nums')
    expect(afterRetention.carried).toBe(0)
    expect(afterRetention.computed).toBe(afterRetention.kept.length)
    expect(afterRetention.result.different).toEqual([{ key: { id: '7777' }, columns: ['v'] }])
  }, 180_000)
})
