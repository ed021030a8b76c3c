import { existsSync } from 'node:fs'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { sandboxSettings } from '../../warehouse/sql-sandbox.ts'
import { applyRetention, publish } from '../../warehouse/index.ts'
import { changeRowsSql, commitChanges, commitExport } from '../helpers/lake-fixtures.ts'
import { query, setup } from './warehouse-setup.ts'

describe('snapshot layout: unchanged tables are not rewritten', () => {
  it('a publish writes only the changed table; old snapshots stay readable; sandboxed readers see the views; retention keeps shared files', async () => {
    const { lakeRoot, warehouse, store } = await setup({ keepSnapshots: 1 })
    await commitExport(lakeRoot, { service: 'ordering', table: 'orders', mode: 'full', parts: [`SELECT range::INT AS id, md5(range::VARCHAR) AS note FROM range(200000)`] })
    await commitExport(lakeRoot, { service: 'catalog', table: 'items', mode: 'incremental', key: ['id'], cursor: 'v', parts: ['SELECT range::INT AS id, 1 AS v FROM range(3)'] })
    const first = await publish({ lakeRoot, warehouse })
    if (!first.published) throw new Error('expected publish')
    await commitExport(lakeRoot, { service: 'catalog', table: 'items', mode: 'incremental', key: ['id'], cursor: 'v', parts: ['SELECT 1::INT AS id, 2 AS v'] })
    const second = await publish({ lakeRoot, warehouse })
    if (!second.published) throw new Error('expected publish')
    expect(second.manifest.info).toMatchObject({ tablesMerged: ['catalog.items'], tablesRebuilt: [], tablesKept: 1 })
    const big = second.manifest.tableFiles?.['ordering.orders']
    expect(big).toEqual(first.manifest.tableFiles?.['ordering.orders'])
    expect(second.manifest.tableFiles?.['catalog.items']?.state).not.toBe(first.manifest.tableFiles?.['catalog.items']?.state)
    // the snapshot file holds views and metadata only: far smaller than the unchanged table's data
    const stateBytes = (await stat(join(warehouse.path, big!.state))).size
    expect((await stat(store.databasePath(2))).size).toBeLessThan(stateBytes)
    expect(await query(store, 'SELECT count(*)::INT AS n FROM ordering.orders')).toEqual([{ n: 200_000 }])
    expect(await query(store, 'SELECT id, v FROM catalog.items ORDER BY id')).toEqual([{ id: 0, v: 1 }, { id: 1, v: 2 }, { id: 2, v: 1 }])
    expect(await query(store, 'SELECT id, v FROM catalog.items ORDER BY id', 1)).toEqual([{ id: 0, v: 1 }, { id: 1, v: 1 }, { id: 2, v: 1 }])
    expect(await query(store, `SELECT rows::INT AS rows FROM coldpipe.tables WHERE schema = 'ordering' AND name = 'orders'`)).toEqual([{ rows: 200_000 }])

    // a reader that refuses file access (the API's ad-hoc SQL sandbox) still reads the snapshot's own files
    const { db } = await store.openReadOnly(undefined, { settings: sandboxSettings('256MB') })
    try {
      expect((await db.queryJson('SELECT count(*)::INT AS n FROM catalog.items__history')).rows).toEqual([{ n: 4 }])
      await expect(db.queryJson(`SELECT * FROM read_csv('/etc/passwd')`)).rejects.toThrow(/Permission Error/)
    } finally {
      db.close()
    }

    // retention removes snapshot 1 and the files only it read, never the ones snapshot 2 shares
    const retained = await applyRetention({ lakeRoot, warehouse, orphanGraceMs: 0 })
    expect(retained.snapshotsRemoved).toEqual([1])
    expect(retained.tableFilesRemoved).toBe(1)
    expect(existsSync(join(warehouse.path, first.manifest.tableFiles!['catalog.items']!.state))).toBe(false)
    for (const path of [big!.state, ...big!.history]) expect(existsSync(join(warehouse.path, path))).toBe(true)
    expect(await query(store, 'SELECT count(*)::INT AS n FROM ordering.orders')).toEqual([{ n: 200_000 }])
  }, 180_000)

  it('keeps history in size tiers: a publish rewrites rows in proportion to what it added, and the file count stays logarithmic', async () => {
    const { lakeRoot, warehouse, store } = await setup()
    const cols = { id: 'INTEGER', v: 'INTEGER' }
    const batches = 40
    let previous: string[] = []
    for (let b = 0; b < batches; b++) {
      await commitChanges(lakeRoot, { service: 'ordering', table: 'orders', key: ['id'], firstOffset: b, lastOffset: b, selectSql: changeRowsSql(cols, [
        { values: { id: b % 5, v: b }, op: 'u', sourcePos: b + 1, offset: b },
      ]) })
      const result = await publish({ lakeRoot, warehouse })
      if (!result.published) throw new Error('expected publish')
      const history = result.manifest.tableFiles!['ordering.orders']!.history
      // Tiers of 4: at most three files of each size, and 40 rows make three tiers.
      expect(history.length).toBeLessThanOrEqual(9)
      // The oldest (biggest) files survive a publish unless four of their tier gathered: never one file again.
      if (b >= 16) expect(history.length).toBeGreaterThan(1)
      const kept = history.filter((path) => previous.includes(path)).length
      expect(kept).toBeGreaterThanOrEqual(Math.min(previous.length, history.length) - 4)
      previous = history
    }
    expect(await query(store, 'SELECT count(*)::INT AS n, max(v)::INT AS v FROM ordering.orders__history')).toEqual([{ n: batches, v: batches - 1 }])
    expect(await query(store, 'SELECT id, v FROM ordering.orders ORDER BY id')).toEqual([0, 1, 2, 3, 4].map((id) => ({ id, v: batches - 5 + id })))
  }, 300_000)
})
