import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Value } from '@sinclair/typebox/value'
import type { FastifyInstance } from 'fastify'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { silentLogger } from '../../core/logger.ts'
import { createMetricsRegistry } from '../../core/metrics.ts'
import { demoExports, demoModelsDir, demoReportsDir, startShopDatabases, type ShopDatabases, type ShopService } from '../../demo/shop/index.ts'
import { createExporter, sourceDefaults, type ExportRunRecord } from '../../ingest/export/index.ts'
import { buildApp } from '../../reports-api/index.ts'
import { publish, SnapshotStore, WarehouseConfigSchema, type PublishResult, type WarehouseConfig } from '../../warehouse/index.ts'
import { apiConfig } from '../reports-api/api-harness.ts'
import { expectedOrderStatusFunnel, expectedRevenueByBrandType, expectedStockVsSold, expectedTopBuyers, loadShopReference, type ShopReference } from './shop-reference.ts'

const services: ShopService[] = ['catalog', 'ordering', 'identity']

/** Per table: row count and an md5 over every row's text in id order — equal only if the seed is. */
async function shopChecksums(shop: ShopDatabases): Promise<Record<string, string>> {
  const tables: [ShopService, string][] = [
    ['catalog', 'catalog_brands'], ['catalog', 'catalog_types'], ['catalog', 'catalog_items'],
    ['ordering', 'buyers'], ['ordering', 'orders'], ['ordering', 'order_items'], ['ordering', 'order_status_changes'],
    ['identity', 'users'],
  ]
  const sums: Record<string, string> = {}
  for (const [service, table] of tables) {
    const [row] = await shop.query<{ sum: string }>(service, `SELECT count(*) || ':' || md5(string_agg(t::text, ',' ORDER BY t.id)) AS sum FROM ${table} t`)
    sums[`${service}.${table}`] = row!.sum
  }
  return sums
}

describe('the demo shop through exports, warehouse and reports API', () => {
  let dir: string
  let shop: ShopDatabases
  let app: FastifyInstance
  let ref: ShopReference
  let runs: ExportRunRecord[]
  let published: PublishResult

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'coldpipe-demo-shop-'))
    shop = await startShopDatabases()
    const lakeRoot = join(dir, 'lake')
    const sources = Object.fromEntries(services.map((s) => [s, { ...sourceDefaults, kind: 'postgres' as const, url: shop.urls[s] }]))
    const exporter = createExporter({ sources, exports: demoExports, lakeRoot, logger: silentLogger })
    try {
      // The reference is read while the exports run: a query must wait for, not break into, an exporter's read.
      const [exported, reference] = await Promise.all([Promise.all(demoExports.map((e) => exporter.runExport(e))), loadShopReference(shop)])
      runs = exported.flat()
      ref = reference
    } finally {
      await exporter.close()
    }
    const warehouse = Value.Default(WarehouseConfigSchema, { path: join(dir, 'warehouse') }) as WarehouseConfig
    published = await publish({ lakeRoot, warehouse, models: demoModelsDir, logger: silentLogger })
    app = await buildApp({
      snapshots: new SnapshotStore(warehouse.path),
      reportsDir: demoReportsDir,
      config: apiConfig(),
      logger: silentLogger,
      metrics: createMetricsRegistry({ defaultMetrics: false }),
    })
  }, 90_000)

  afterAll(async () => {
    await app?.close()
    await shop?.close()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  async function report(path: string): Promise<{ rows: Record<string, unknown>[]; page: { hasMore: boolean } }> {
    const res = await app.inject(path)
    expect(res.statusCode, res.body).toBe(200)
    return res.json()
  }

  it('exports every table and publishes with the read models and passing data tests', async () => {
    expect(runs.map((r) => `${r.source}.${r.table}:${r.status}`).sort()).toEqual(
      demoExports.flatMap((e) => e.tables!.map((t) => `${e.source}.${t.name}:committed`)).sort(),
    )
    expect(runs.find((r) => r.table === 'orders')?.rows).toBe(ref.orders.size)
    expect(published.published).toBe(true)
    if (!published.published) return
    const tests = parseYaml(await readFile(join(demoModelsDir, 'tests.yaml'), 'utf8')).tests as unknown[]
    expect(published.manifest.info).toMatchObject({ models: ['order_lines_enriched', 'order_timeline'], dataTests: { passed: tests.length, warned: 0 } })
    const counts = await shop.query<{ n: number }>('ordering', 'SELECT count(*)::int AS n FROM orders')
    expect(counts[0]!.n).toBeGreaterThanOrEqual(5000)
  })

  it('lists the four reports with their parameters', async () => {
    const body = (await app.inject('/reports')).json()
    expect(body.invalid).toEqual([])
    const params = Object.fromEntries(body.reports.map((r: { name: string; params: { name: string }[] }) => [r.name, r.params.map((p) => p.name).sort()]))
    expect(params).toEqual({
      live_order_funnel: ['since'],
      order_status_funnel: ['from', 'to'],
      revenue_by_brand_type: ['brand', 'from', 'to'],
      stock_vs_sold: ['below_threshold', 'from', 'to'],
      top_buyers: ['country', 'top'],
    })
  })

  it('revenue_by_brand_type matches Ordering x Catalog joined by hand', async () => {
    const june = await report('/reports/revenue_by_brand_type?from=2026-06-01&to=2026-06-30&limit=10000')
    expect(june.page.hasMore).toBe(false)
    expect(june.rows.length).toBeGreaterThan(100)
    expect(june.rows).toEqual(expectedRevenueByBrandType(ref, { from: '2026-06-01', to: '2026-06-30' }))
    const azure = await report('/reports/revenue_by_brand_type?from=2026-05-01&to=2026-10-31&brand=Azure&limit=10000')
    expect(azure.rows.length).toBeGreaterThan(0)
    expect(azure.rows).toEqual(expectedRevenueByBrandType(ref, { from: '2026-05-01', to: '2026-10-31', brand: 'Azure' }))
  })

  it('stock_vs_sold matches Catalog x Ordering joined by hand', async () => {
    const all = await report('/reports/stock_vs_sold?from=2026-05-01&to=2026-10-31&limit=10000')
    expect(all.rows).toEqual(expectedStockVsSold(ref, { from: '2026-05-01', to: '2026-10-31', belowThreshold: false }))
    const low = await report('/reports/stock_vs_sold?from=2026-08-01&to=2026-08-31&below_threshold=true')
    expect(low.rows.length).toBeGreaterThan(0)
    expect(low.rows).toEqual(expectedStockVsSold(ref, { from: '2026-08-01', to: '2026-08-31', belowThreshold: true }))
  })

  it('top_buyers matches Ordering x Identity joined by hand, as JSON and as CSV', async () => {
    expect((await report('/reports/top_buyers')).rows).toEqual(expectedTopBuyers(ref, { top: 20 }))
    const spain = await report('/reports/top_buyers?top=7&country=Spain')
    expect(spain.rows).toEqual(expectedTopBuyers(ref, { top: 7, country: 'Spain' }))
    expect(spain.rows).toHaveLength(7)

    const csv = await app.inject('/reports/top_buyers?top=5&format=csv')
    expect(csv.statusCode).toBe(200)
    expect(csv.headers['content-type']).toMatch(/text\/csv/)
    const lines = csv.body.trim().split(/\r?\n/)
    const expected = expectedTopBuyers(ref, { top: 5 })
    expect(lines[0]).toBe(Object.keys(expected[0]!).join(','))
    // Names, emails and places hold no commas or quotes, so each line is the values joined.
    expect(lines.slice(1)).toEqual(expected.map((row) => Object.values(row).map((v) => v ?? '').join(',')))
  })

  it('order_status_funnel matches the status history pivoted by hand', async () => {
    const all = await report('/reports/order_status_funnel')
    expect(all.rows.map((r) => r.month)).toEqual(['2026-05', '2026-06', '2026-07', '2026-08', '2026-09', '2026-10'])
    expect(all.rows).toEqual(expectedOrderStatusFunnel(ref, {}))
    const summer = await report('/reports/order_status_funnel?from=2026-07-10&to=2026-08-20')
    expect(summer.rows).toEqual(expectedOrderStatusFunnel(ref, { from: '2026-07-10', to: '2026-08-20' }))
  })

  it('refuses a bad parameter with 400 naming it', async () => {
    const res = await app.inject('/reports/revenue_by_brand_type?from=notadate&to=2026-06-30')
    expect(res.statusCode).toBe(400)
    expect(res.json().error).toMatchObject({ code: 'REPORT_PARAM_INVALID', details: { param: 'from' } })
  })

  it('a reference query waits for an open transaction instead of running inside it', async () => {
    const client = new pg.Client({ connectionString: shop.urls.ordering })
    await client.connect()
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
      const pending = shop.query<{ transaction_isolation: string }>('ordering', 'SHOW transaction_isolation')
      // PGlite has a single session: had the query slipped into the open transaction it would report it.
      expect((await client.query('SELECT count(*)::int AS n FROM orders')).rows[0].n).toBe(ref.orders.size)
      await client.query('COMMIT')
      expect(await pending).toEqual([{ transaction_isolation: 'read committed' }])
    } finally {
      await client.end()
    }
  })

  it('seeds the same rows on every fresh start, and a data folder only once', async () => {
    // A fresh seed into a data folder must equal the in-memory one seeded at the start of this file.
    const dataDir = join(dir, 'shop-data')
    const first = await startShopDatabases({ dataDir })
    try {
      expect(await shopChecksums(first)).toEqual(await shopChecksums(shop))
      await first.query('catalog', "UPDATE catalog_brands SET brand = 'Kept' WHERE id = 12")
    } finally {
      await first.close()
    }
    expect((await readdir(dataDir)).sort()).toEqual(['catalog', 'identity', 'ordering'])
    const reopened = await startShopDatabases({ dataDir })
    try {
      expect(await reopened.query('catalog', 'SELECT brand FROM catalog_brands WHERE id = 12')).toEqual([{ brand: 'Kept' }])
      expect((await reopened.query<{ n: number }>('ordering', 'SELECT count(*)::int AS n FROM orders'))[0]!.n).toBe(ref.orders.size)
    } finally {
      await reopened.close()
    }
  }, 60_000)
})
