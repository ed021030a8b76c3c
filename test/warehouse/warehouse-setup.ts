import { join } from 'node:path'
import { SnapshotStore } from '../../warehouse/index.ts'
import { warehouseDefaults, type WarehouseConfig } from '../../warehouse/warehouse-config.ts'
import { tempDir } from '../helpers/temp-dir.ts'

/** A temp lake and warehouse config for one test. */
export async function setup(extra: Partial<WarehouseConfig> = {}) {
  const dir = await tempDir('coldpipe-pub-')
  const lakeRoot = join(dir, 'lake')
  const warehouse: WarehouseConfig = { ...warehouseDefaults, path: join(dir, 'wh'), softDeletes: false, ...extra }
  return { dir, lakeRoot, warehouse, store: new SnapshotStore(warehouse.path) }
}

export async function query(store: SnapshotStore, sql: string, id?: number): Promise<Record<string, unknown>[]> {
  const { db } = await store.openReadOnly(id)
  try {
    return (await db.queryJson(sql)).rows
  } finally {
    db.close()
  }
}
