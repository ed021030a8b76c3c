import { describe, expect, it } from 'vitest'
import { ColdpipeError } from '../../core/errors.ts'
import { publish } from '../../warehouse/index.ts'
import { changeRowsSql, commitChanges, commitExport } from '../helpers/lake-fixtures.ts'
import { query, setup } from './warehouse-setup.ts'

describe('publish', () => {
  it('publishes full and incremental exports with metadata, and nothing when the lake is unchanged', async () => {
    const { lakeRoot, warehouse, store } = await setup()
    await commitExport(lakeRoot, { service: 'catalog', table: 'catalog_items', mode: 'full', parts: [`SELECT range::INT AS id, 'item ' || range AS name FROM range(10)`] })
    await commitExport(lakeRoot, { service: 'ordering', table: 'orders', mode: 'incremental', key: ['id'], cursor: 'v', parts: [`SELECT range::INT AS id, 1 AS v FROM range(5)`] })
    const first = await publish({ lakeRoot, warehouse })
    expect(first.published).toBe(true)
    expect(await query(store, 'SELECT count(*)::INT AS n FROM catalog.catalog_items')).toEqual([{ n: 10 }])
    // full run replaces; incremental run merges by key, latest run wins; new column unioned by name
    await commitExport(lakeRoot, { service: 'catalog', table: 'catalog_items', mode: 'full', parts: [`SELECT range::INT AS id, 'new ' || range AS name FROM range(3)`] })
    await commitExport(lakeRoot, { service: 'ordering', table: 'orders', mode: 'incremental', key: ['id'], cursor: 'v', parts: [`SELECT (range + 3)::INT AS id, 2 AS v, 'x' AS note FROM range(4)`] })
    const second = await publish({ lakeRoot, warehouse })
    if (!second.published) throw new Error('expected publish')
    expect(second.manifest.basedOn).toBe(1)
    expect(await query(store, 'SELECT * FROM catalog.catalog_items ORDER BY id')).toEqual([0, 1, 2].map((i) => ({ id: i, name: `new ${i}` })))
    expect(await query(store, 'SELECT id, v FROM ordering.orders ORDER BY id')).toEqual([
      { id: 0, v: 1 }, { id: 1, v: 1 }, { id: 2, v: 1 }, { id: 3, v: 2 }, { id: 4, v: 2 }, { id: 5, v: 2 }, { id: 6, v: 2 },
    ])
    expect(await query(store, `SELECT count(*)::INT AS n FROM ordering.orders__history`)).toEqual([{ n: 9 }])
    expect(await query(store, `SELECT id, lake_version::INT AS v FROM coldpipe.snapshot`)).toEqual([{ id: 2, v: 3 }])
    expect(await query(store, `SELECT source, service, "table" FROM coldpipe.freshness ORDER BY 1`)).toEqual([
      { source: 'export:catalog.catalog_items', service: 'catalog', table: 'catalog_items' },
      { source: 'export:ordering.orders', service: 'ordering', table: 'orders' },
    ])
    expect(await query(store, `SELECT rows::INT AS rows FROM coldpipe.tables WHERE schema = 'ordering' AND name = 'orders'`)).toEqual([{ rows: 7 }])
    const cols = await query(store, `SELECT name FROM coldpipe.columns WHERE schema = 'ordering' AND "table" = 'orders' ORDER BY position`)
    expect(cols.map((c) => c.name)).toEqual(['id', 'v', 'note'])
    expect(await query(store, 'SELECT id FROM ordering.orders WHERE id = 0', 1)).toEqual([{ id: 0 }])
    const third = await publish({ lakeRoot, warehouse })
    expect(third.published).toBe(false)
    expect((await publish({ lakeRoot, warehouse, force: true })).published).toBe(true)
  })

  it('merges change events: latest per key, deletes applied, _cp_ columns only in history; soft deletes on request', async () => {
    const { lakeRoot, warehouse, store } = await setup()
    const cols = { id: 'INTEGER', status: 'VARCHAR' }
    await commitChanges(lakeRoot, { service: 'ordering', table: 'orders', key: ['id'], firstOffset: 0, lastOffset: 2, selectSql: changeRowsSql(cols, [
      { values: { id: 1, status: 'new' }, op: 'c', sourcePos: 10, offset: 0 },
      { values: { id: 2, status: 'new' }, op: 'c', sourcePos: 11, offset: 1 },
      { values: { id: 1, status: 'paid' }, op: 'u', sourcePos: 12, offset: 2 },
    ]) })
    await publish({ lakeRoot, warehouse })
    expect(await query(store, 'SELECT * FROM ordering.orders ORDER BY id')).toEqual([{ id: 1, status: 'paid' }, { id: 2, status: 'new' }])
    await commitChanges(lakeRoot, { service: 'ordering', table: 'orders', key: ['id'], firstOffset: 3, lastOffset: 5, selectSql: changeRowsSql(cols, [
      { values: { id: 2, status: 'new' }, op: 'd', sourcePos: 13, offset: 3 },
      { values: { id: 1, status: 'stale' }, op: 'u', sourcePos: 9, offset: 4 },
      { values: { id: 3, status: 'new' }, op: 'c', sourcePos: 14, offset: 5 },
    ]) })
    const res = await publish({ lakeRoot, warehouse })
    if (!res.published) throw new Error('expected publish')
    expect(res.manifest.info).toMatchObject({ filesRead: 1, rowsMerged: 3, tablesRebuilt: [], tablesMerged: ['ordering.orders'] })
    expect(await query(store, 'SELECT * FROM ordering.orders ORDER BY id')).toEqual([{ id: 1, status: 'paid' }, { id: 3, status: 'new' }])
    expect(await query(store, 'SELECT count(*)::INT AS n, count(_cp_source_pos)::INT AS p FROM ordering.orders__history')).toEqual([{ n: 6, p: 6 }])
    // switching soft deletes on rebuilds every table from the lake
    const soft = await publish({ lakeRoot, warehouse: { ...warehouse, softDeletes: true }, force: true })
    if (!soft.published) throw new Error('expected publish')
    expect(soft.manifest.info).toMatchObject({ tablesRebuilt: ['ordering.orders'], filesRead: 2 })
    expect(await query(store, 'SELECT id, _cp_deleted FROM ordering.orders ORDER BY id')).toEqual([
      { id: 1, _cp_deleted: false }, { id: 2, _cp_deleted: true }, { id: 3, _cp_deleted: false },
    ])
  })

  it('a failure mid-publish leaves the previous snapshot current and nothing half-built', async () => {
    const { lakeRoot, warehouse, store } = await setup()
    await commitExport(lakeRoot, { service: 'catalog', table: 'items', mode: 'full', parts: [`SELECT 1 AS id`] })
    await publish({ lakeRoot, warehouse })
    await commitExport(lakeRoot, { service: 'catalog', table: 'items', mode: 'full', parts: [`SELECT 2 AS id`] })
    for (const point of ['built', 'before-publish'] as const) {
      await expect(publish({ lakeRoot, warehouse, failpoint: (p) => { if (p === point) throw new ColdpipeError('WAREHOUSE_PUBLISH_FAILED', `injected at ${p}`) } }))
        .rejects.toMatchObject({ code: 'WAREHOUSE_PUBLISH_FAILED' })
      expect(await store.currentId()).toBe(1)
      expect(await store.list()).toEqual([1])
      expect(await query(store, 'SELECT id FROM catalog.items')).toEqual([{ id: 1 }])
    }
    const { readdir } = await import('node:fs/promises')
    expect((await readdir(store.tmpDir)).filter((n) => n.endsWith('.duckdb'))).toEqual([])
  })
})

describe('append-only tables', () => {
  it('keeps every row of change files without a key (integration events)', async () => {
    const { lakeRoot, warehouse, store } = await setup()
    for (const first of [0, 2]) {
      await commitChanges(lakeRoot, { service: 'ordering', table: 'events', key: [], firstOffset: first, lastOffset: first + 1, selectSql: changeRowsSql({ event_id: 'VARCHAR' }, [
        { values: { event_id: `e${first}` }, op: 'c', sourcePos: first, offset: first },
        { values: { event_id: `e${first + 1}` }, op: 'c', sourcePos: first + 1, offset: first + 1 },
      ]) })
      await publish({ lakeRoot, warehouse })
    }
    expect(await query(store, 'SELECT event_id FROM ordering.events ORDER BY 1')).toEqual(['e0', 'e1', 'e2', 'e3'].map((event_id) => ({ event_id })))
  })

  it('refuses a table fed by exports and by change events, naming it, and keeps the previous snapshot', async () => {
    const { lakeRoot, warehouse, store } = await setup()
    await commitExport(lakeRoot, { service: 'ordering', table: 'orders', mode: 'full', parts: ['SELECT 1 AS id, 10 AS total'] })
    await publish({ lakeRoot, warehouse })
    await commitChanges(lakeRoot, { service: 'ordering', table: 'orders', key: ['id'], firstOffset: 0, lastOffset: 0, selectSql: changeRowsSql({ id: 'INTEGER', total: 'INTEGER' }, [
      { values: { id: 2, total: 20 }, op: 'c', sourcePos: 1, offset: 0 },
    ]) })
    await expect(publish({ lakeRoot, warehouse })).rejects.toMatchObject({ code: 'WAREHOUSE_PUBLISH_FAILED', context: { table: 'ordering.orders' } })
    expect((await store.current())?.id).toBe(1)
    expect(await query(store, 'SELECT id, total FROM ordering.orders')).toEqual([{ id: 1, total: 10 }])
  })
})
