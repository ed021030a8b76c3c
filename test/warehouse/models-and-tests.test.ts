import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { orderModels, loadModels } from '../../transform/index.ts'
import { publish } from '../../warehouse/index.ts'
import { commitExport } from '../helpers/lake-fixtures.ts'
import { query, setup } from './warehouse-setup.ts'

async function shop(lakeRoot: string, extraItems = '') {
  await commitExport(lakeRoot, { service: 'catalog', table: 'catalog_items', mode: 'full', parts: [`SELECT range::INT AS id, 'b' || (range % 2) AS brand FROM range(4)`] })
  await commitExport(lakeRoot, { service: 'ordering', table: 'order_items', mode: 'full',
    parts: [`SELECT range::INT AS id, (range % 4)::INT AS catalog_item_id, 10 AS amount, 'paid' AS status FROM range(8)${extraItems}`] })
}

async function models(dir: string, files: Record<string, string>): Promise<string> {
  const modelsDir = join(dir, 'models')
  await mkdir(modelsDir, { recursive: true })
  for (const [name, text] of Object.entries(files)) await writeFile(join(modelsDir, name), text)
  return modelsDir
}

describe('read models', () => {
  it('builds models in dependency order as analytics.<name>', async () => {
    const { dir, lakeRoot, warehouse, store } = await setup()
    await shop(lakeRoot)
    const modelsDir = await models(dir, {
      'a_brand_totals.sql': 'SELECT brand, sum(revenue) AS revenue FROM analytics.z_item_revenue GROUP BY brand ORDER BY brand;',
      'z_item_revenue.sql': `-- refers to analytics.nothing_here in a comment\nSELECT c.id, c.brand, sum(o.amount) AS revenue FROM ordering.order_items o JOIN catalog.catalog_items c ON c.id = o.catalog_item_id GROUP BY ALL`,
    })
    const result = await publish({ lakeRoot, warehouse, models: modelsDir })
    if (!result.published) throw new Error('expected publish')
    expect(result.manifest.info?.models).toEqual(['z_item_revenue', 'a_brand_totals'])
    expect(await query(store, 'SELECT brand, revenue::INT AS revenue FROM analytics.a_brand_totals ORDER BY brand')).toEqual([{ brand: 'b0', revenue: 40 }, { brand: 'b1', revenue: 40 }])
  })

  it('names a cycle, and a failing model keeps the previous snapshot current', async () => {
    const { dir, lakeRoot, warehouse, store } = await setup()
    const cyc = await models(join(dir, 'cyc'), { 'a.sql': 'SELECT * FROM analytics.b', 'b.sql': 'SELECT * FROM analytics.a' })
    expect(() => orderModels([]) ).not.toThrow()
    await expect(loadModels(cyc).then(orderModels)).rejects.toMatchObject({ code: 'WAREHOUSE_MODEL_FAILED', message: expect.stringContaining('a -> b -> a') })
    await shop(lakeRoot)
    await publish({ lakeRoot, warehouse })
    await commitExport(lakeRoot, { service: 'catalog', table: 'catalog_items', mode: 'full', parts: ['SELECT 9 AS id'] })
    const bad = await models(dir, { 'broken.sql': 'SELECT no_such_column FROM catalog.catalog_items' })
    await expect(publish({ lakeRoot, warehouse, models: bad })).rejects.toMatchObject({ code: 'WAREHOUSE_MODEL_FAILED', message: expect.stringMatching(/broken[\s\S]*no_such_column/) })
    expect(await store.currentId()).toBe(1)
  })
})

describe('data tests', () => {
  const testsYaml = (severity: string) => `tests:
  - { test: not_null, table: ordering.order_items, column: catalog_item_id }
  - { test: unique, table: catalog.catalog_items, column: id }
  - { test: accepted_values, table: ordering.order_items, column: status, values: [paid, shipped] }
  - { test: relationships, table: ordering.order_items, column: catalog_item_id, to: catalog.catalog_items.id, severity: ${severity} }
  - { test: freshness, table: catalog.catalog_items, maxAgeSeconds: 3600, severity: warn }
`
  it('records results; error severity blocks the publish, warn does not', async () => {
    const { dir, lakeRoot, warehouse, store } = await setup()
    await shop(lakeRoot, ' UNION ALL SELECT 100, 77, 5, \'paid\'')
    const warnDir = await models(join(dir, 'warn'), { 'tests.yaml': testsYaml('warn') })
    const ok = await publish({ lakeRoot, warehouse, models: warnDir })
    if (!ok.published) throw new Error('expected publish')
    expect(ok.manifest.info?.dataTests).toEqual({ passed: 4, warned: 1 })
    expect(await query(store, `SELECT test, failing::INT AS failing, passed FROM coldpipe.data_tests WHERE NOT passed`)).toEqual([{ test: 'relationships', failing: 1, passed: false }])
    const errorDir = await models(join(dir, 'err'), { 'tests.yaml': testsYaml('error') })
    const failed = publish({ lakeRoot, warehouse, models: errorDir, force: true })
    await expect(failed).rejects.toMatchObject({ code: 'WAREHOUSE_DATA_TEST_FAILED', context: { test: 'relationships', table: 'ordering.order_items', column: 'catalog_item_id', failing: 1 } })
    expect(await store.currentId()).toBe(1)
    const stale = await models(join(dir, 'stale'), { 'tests.yaml': 'tests:\n  - { test: freshness, table: catalog.catalog_items, maxAgeSeconds: 60 }\n' })
    await expect(publish({ lakeRoot, warehouse, models: stale, force: true, now: () => new Date(Date.now() + 3_600_000) })).rejects.toMatchObject({ code: 'WAREHOUSE_DATA_TEST_FAILED' })
  })
})
