import { readdir } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { cacheDir } from '../../warehouse/reconcile/segment-cache.ts'
import { mysqlDatabase, postgresSchema } from '../helpers/databases.ts'
import { pipeline, sourceConfig } from './reconcile-fixtures.ts'

// Small segments so the first pass has enough of them to be split between two source connections.
const settings = { segmentRows: 500, leafRows: 64, fanOut: 16 }

describe('ordered segment checksums (integer key with an index on PostgreSQL)', () => {
  it('finds a changed, a missing and an extra row with the pass split between connections, and again with the warehouse side kept', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.items (id int PRIMARY KEY, label text, price numeric(10,2), seen timestamptz)`)
    await client.query(`INSERT INTO ${schema}.items SELECT g, CASE WHEN g % 9 = 0 THEN NULL ELSE 'l|' || g END, g / 100.0, '2026-02-01'::timestamptz + g * interval '1 minute' FROM generate_series(-2000, 60000) g`)
    const p = await pipeline({ shop: sourceConfig('postgres', url, schema) }, [{ source: 'shop', timezone: 'UTC', tables: [{ name: 'items', mode: 'full', key: ['id'], lagSeconds: 0, chunkRows: 100_000 }] }])
    await p.load()

    const same = (await p.reconcile(settings)).results[0]!
    expect(same).toMatchObject({ status: 'match', counts: { sourceRows: 62_001, warehouseRows: 62_001 } })
    expect(same.transfer.sourceRowsFetched).toBe(0)
    // The warehouse side of the first pass was kept beside the results.
    expect(await readdir(cacheDir(p.warehouse.path))).toEqual(['shop.items.json'])

    await client.query(`UPDATE ${schema}.items SET label = 'changed' WHERE id = 31337`)
    await client.query(`DELETE FROM ${schema}.items WHERE id = -1500`)
    await client.query(`INSERT INTO ${schema}.items VALUES (70000, 'new', 1, now())`)
    // Twice: the second run reuses the kept warehouse side and must find the same rows.
    for (let i = 0; i < 2; i++) {
      const r = (await p.reconcile(settings)).results[0]!
      expect(r.status).toBe('mismatch')
      expect(r.different).toEqual([{ key: { id: '31337' }, columns: ['label'] }])
      expect(r.extra).toEqual([{ key: { id: '-1500' } }])
      expect(r.missing).toEqual([{ key: { id: '70000' } }])
      expect(r.transfer.sourceRowsFetched).toBeLessThan(1_000)
    }
  }, 180_000)

  it('a key without an index on the source is compared with the per-row checksum, with the same findings', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.loose (id bigint NOT NULL, v text)`)
    await client.query(`INSERT INTO ${schema}.loose SELECT g, 'v' || g FROM generate_series(1, 20000) g`)
    const p = await pipeline({ shop: sourceConfig('postgres', url, schema) }, [{ source: 'shop', timezone: 'UTC', tables: [{ name: 'loose', mode: 'full', key: ['id'], lagSeconds: 0, chunkRows: 100_000 }] }])
    await p.load()
    expect((await p.reconcile(settings)).results[0]).toMatchObject({ status: 'match' })
    await client.query(`UPDATE ${schema}.loose SET v = 'x' WHERE id = 12345`)
    const r = (await p.reconcile(settings)).results[0]!
    expect(r.different).toEqual([{ key: { id: '12345' }, columns: ['v'] }])
  }, 120_000)
})

describe('integer keys on MariaDB (per-row checksum, 64-bit segment arithmetic)', () => {
  it('negative and large keys fall in the same segments on both sides', async () => {
    const { connection, database, url } = await mysqlDatabase()
    await connection.query(`CREATE TABLE ${database}.nums (id bigint PRIMARY KEY, v varchar(20))`)
    await connection.query(`INSERT INTO ${database}.nums SELECT CAST(seq AS SIGNED) * 1000003 - 9000000000, CONCAT('v', seq) FROM seq_1_to_20000`)
    const p = await pipeline({ bank: sourceConfig('mysql', url) }, [{ source: 'bank', timezone: 'UTC', tables: [{ name: 'nums', mode: 'full', key: ['id'], lagSeconds: 0, chunkRows: 100_000 }] }])
    await p.load()
    expect((await p.reconcile(settings)).results[0]).toMatchObject({ status: 'match', counts: { sourceRows: 20_000 } })
    await connection.query(`UPDATE ${database}.nums SET v = 'x' WHERE id = ${777 * 1000003 - 9000000000}`)
    const r = (await p.reconcile(settings)).results[0]!
    expect(r.different).toEqual([{ key: { id: String(777 * 1000003 - 9000000000) }, columns: ['v'] }])
  }, 120_000)
})
