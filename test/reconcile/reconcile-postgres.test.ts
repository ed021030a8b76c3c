import { describe, expect, it } from 'vitest'
import { postgresSchema } from '../helpers/databases.ts'
import { pipeline, sourceConfig } from './reconcile-fixtures.ts'

describe('reconcile against PostgreSQL', () => {
  it('a 1M-row table: identical is a match; one changed value, one missing and one extra row are each found by key', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.orders (id bigint PRIMARY KEY, customer text, amount numeric(12,2), note text, placed_at timestamptz NOT NULL)`)
    await client.query(`INSERT INTO ${schema}.orders SELECT g, 'c' || (g % 1000), (g % 10000) / 100.0, CASE WHEN g % 7 = 0 THEN NULL ELSE 'n|' || g END,
      '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 second' FROM generate_series(1, 1000000) g`)
    const p = await pipeline({ shop: sourceConfig('postgres', url, schema) }, [{ source: 'shop', timezone: 'UTC', tables: [{ name: 'orders', mode: 'full', key: ['id'], lagSeconds: 0, chunkRows: 500_000 }] }])
    await p.load()

    const same = await p.reconcile()
    expect(same.results).toHaveLength(1)
    expect(same.results[0]).toMatchObject({ source: 'shop', table: 'orders', status: 'match', counts: { sourceRows: 1_000_000, warehouseRows: 1_000_000, comparedRows: 1_000_000, tooNewRows: 0 } })
    expect(same.results[0]!.transfer.sourceRowsFetched).toBe(0)
    expect(same.warnings).toEqual([])

    await client.query(`UPDATE ${schema}.orders SET amount = amount + 0.01 WHERE id = 424242`)
    await client.query(`DELETE FROM ${schema}.orders WHERE id = 777777`)
    await client.query(`INSERT INTO ${schema}.orders VALUES (1000001, 'new', 1.00, NULL, now())`)
    const run = await p.reconcile()
    const r = run.results[0]!
    expect(r.status).toBe('mismatch')
    expect(r.different).toEqual([{ key: { id: '424242' }, columns: ['amount'] }])
    expect(r.extra).toEqual([{ key: { id: '777777' } }])
    expect(r.missing).toEqual([{ key: { id: '1000001' } }])
    expect(r.transfer.sourceRowsFetched).toBeLessThan(2_000)
    expect(run.warnings[0]).toMatchObject({ code: 'RECONCILE_MISMATCH', context: { table: 'shop.orders' } })
    expect(run.warnings[0]!.message).toContain('424242')
  }, 300_000)
})

describe('reconcile a composite key', () => {
  it('a key whose first column has few values is narrowed to that value and its rows compared', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.lines (order_id int, line text, qty int, PRIMARY KEY (order_id, line))`)
    await client.query(`INSERT INTO ${schema}.lines SELECT g % 3, 'l' || g, g FROM generate_series(1, 3000) g`)
    const p = await pipeline({ shop: sourceConfig('postgres', url, schema) }, [{ source: 'shop', timezone: 'UTC', tables: [{ name: 'lines', mode: 'full', key: ['order_id', 'line'], lagSeconds: 0, chunkRows: 10_000 }] }])
    await p.load()
    await client.query(`DELETE FROM ${schema}.lines WHERE order_id = 1 AND line = 'l1000'`)
    await client.query(`UPDATE ${schema}.lines SET qty = 0 WHERE order_id = 2 AND line = 'l2000'`)
    const r = (await p.reconcile()).results[0]!
    expect(r).toMatchObject({ status: 'mismatch', unresolvedSegments: 0 })
    expect(r.extra).toEqual([{ key: { order_id: '1', line: 'l1000' } }])
    expect(r.different).toEqual([{ key: { order_id: '2', line: 'l2000' }, columns: ['qty'] }])
  }, 120_000)
})
