import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { publish, SnapshotStore } from '../../warehouse/index.ts'
import { warehouseDefaults, type WarehouseConfig } from '../../warehouse/warehouse-config.ts'
import { commitExport } from '../helpers/lake-fixtures.ts'
import { smallDisk } from '../helpers/small-disk.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { query } from './warehouse-setup.ts'

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)).sort()
}

describe('publish on a full disk', () => {
  it('fails with WAREHOUSE_DISK_FULL naming the path, leaves nothing behind, keeps N current, and publishes once space is freed', async () => {
    const lakeRoot = join(await tempDir('coldpipe-lake-'), 'lake')
    const disk = await smallDisk(48)
    const warehouse: WarehouseConfig = { ...warehouseDefaults, path: join(disk.dir, 'wh'), softDeletes: false }
    const store = new SnapshotStore(warehouse.path)
    await commitExport(lakeRoot, { service: 'catalog', table: 'items', mode: 'full', parts: ['SELECT range::INT AS id FROM range(10)'] })
    await commitExport(lakeRoot, { service: 'ordering', table: 'orders', mode: 'full', parts: ['SELECT range::INT AS id FROM range(7)'] })
    const first = await publish({ lakeRoot, warehouse })
    if (!first.published) throw new Error('expected publish')
    const before = await filesUnder(warehouse.path)

    // A new run whose table files do not fit in what is left (random text does not compress).
    await commitExport(lakeRoot, { service: 'ordering', table: 'orders', mode: 'full', parts: [
      `SELECT range::INT AS id, md5(random()::VARCHAR) || md5(random()::VARCHAR) || md5(random()::VARCHAR) AS note FROM range(300000)`,
    ] })
    await disk.fill(2 * 1024 * 1024)
    const failed = await publish({ lakeRoot, warehouse }).catch((error: unknown) => error)
    expect(failed).toMatchObject({ code: 'WAREHOUSE_DISK_FULL', canRetry: true, context: { path: warehouse.path, current: 1 } })
    expect(String((failed as Error).message)).toContain(warehouse.path)
    // no build file, WAL, spill folder or half-written table file is left, the ballast aside
    expect((await filesUnder(warehouse.path)).filter((f) => !before.includes(f))).toEqual([])
    expect(await store.currentId()).toBe(1)
    expect(await query(store, 'SELECT count(*)::INT AS n FROM ordering.orders')).toEqual([{ n: 7 }])
    expect(await query(store, 'SELECT count(*)::INT AS n FROM catalog.items')).toEqual([{ n: 10 }])

    await disk.free()
    const next = await publish({ lakeRoot, warehouse })
    if (!next.published) throw new Error('expected publish')
    expect(next.manifest.id).toBe(2)
    expect(await query(store, 'SELECT count(*)::INT AS n FROM ordering.orders')).toEqual([{ n: 300_000 }])
    // the unchanged table's files are shared with snapshot 1, not rewritten
    expect(next.manifest.tableFiles?.['catalog.items']).toEqual(first.manifest.tableFiles?.['catalog.items'])
  }, 180_000)

  it('a merge-on-read publish (delta and history files of an incremental table) on a full disk fails the same way and merges once space is freed', async () => {
    const lakeRoot = join(await tempDir('coldpipe-lake-'), 'lake')
    const disk = await smallDisk(48)
    const warehouse: WarehouseConfig = { ...warehouseDefaults, path: join(disk.dir, 'wh'), softDeletes: false }
    const store = new SnapshotStore(warehouse.path)
    const rows = (from: number, n: number) => `SELECT (${from} + range)::INT AS id, md5(random()::VARCHAR) || md5(random()::VARCHAR) || md5(random()::VARCHAR) AS note FROM range(${n})`
    await commitExport(lakeRoot, { service: 'crm', table: 'accounts', mode: 'incremental', key: ['id'], cursor: 'id', parts: [rows(0, 100_000)] })
    const first = await publish({ lakeRoot, warehouse })
    if (!first.published) throw new Error('expected publish')
    const before = await filesUnder(warehouse.path)

    // 18 k changed keys: under a fifth of the table, so they go to a delta (plus a history file), not a fold.
    await commitExport(lakeRoot, { service: 'crm', table: 'accounts', mode: 'incremental', key: ['id'], cursor: 'id', parts: [rows(90_000, 18_000)] })
    await disk.fill(2 * 1024 * 1024)
    const failed = await publish({ lakeRoot, warehouse }).catch((error: unknown) => error)
    expect(failed).toMatchObject({ code: 'WAREHOUSE_DISK_FULL', canRetry: true, context: { path: warehouse.path, current: 1 } })
    expect((await filesUnder(warehouse.path)).filter((f) => !before.includes(f))).toEqual([])
    expect(await store.currentId()).toBe(1)
    expect(await query(store, 'SELECT count(*)::INT AS n FROM crm.accounts')).toEqual([{ n: 100_000 }])

    await disk.free()
    const next = await publish({ lakeRoot, warehouse })
    if (!next.published) throw new Error('expected publish')
    const files = next.manifest.tableFiles!['crm.accounts']!
    expect(files.delta).toBeDefined()
    expect(files.state).toBe(first.manifest.tableFiles!['crm.accounts']!.state)
    expect(await query(store, 'SELECT count(*)::INT AS n FROM crm.accounts')).toEqual([{ n: 108_000 }])
  }, 180_000)
})
