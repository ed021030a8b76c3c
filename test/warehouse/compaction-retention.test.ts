import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CommitLog } from '../../lake/index.ts'
import { applyRetention, compact, publish } from '../../warehouse/index.ts'
import { changeRowsSql, commitChanges, commitExport, type ChangeRow } from '../helpers/lake-fixtures.ts'
import { query, setup } from './warehouse-setup.ts'

const cols = { id: 'INTEGER', v: 'INTEGER' }

/** `n` micro-batches of `perBatch` events over keys 0..keys-1, with some deletes. */
async function microBatches(lakeRoot: string, n: number, perBatch: number, keys: number, start = 0) {
  for (let b = start; b < start + n; b++) {
    const rows: ChangeRow[] = []
    for (let i = 0; i < perBatch; i++) {
      const pos = b * perBatch + i + 1
      const id = (pos * 7) % keys
      rows.push({ values: { id, v: pos }, op: pos % 11 === 0 ? 'd' : 'u', sourcePos: pos, offset: pos })
    }
    await commitChanges(lakeRoot, { service: 'ordering', table: 'orders', key: ['id'], firstOffset: b * perBatch, lastOffset: (b + 1) * perBatch - 1, selectSql: changeRowsSql(cols, rows) })
  }
}

const probe = 'SELECT id, v FROM ordering.orders ORDER BY id'
const probeHistory = 'SELECT count(*)::INT AS n, max(v)::INT AS v FROM ordering.orders__history'

describe('incremental cost', () => {
  it('a publish reads only the files and rows committed since the last snapshot', async () => {
    const { lakeRoot, warehouse } = await setup()
    await microBatches(lakeRoot, 10, 200, 500)
    const full = await publish({ lakeRoot, warehouse })
    if (!full.published) throw new Error('expected publish')
    expect(full.manifest.info).toMatchObject({ filesRead: 10, rowsMerged: 2000, tablesRebuilt: ['ordering.orders'] })
    await microBatches(lakeRoot, 1, 30, 500, 10)
    const small = await publish({ lakeRoot, warehouse })
    if (!small.published) throw new Error('expected publish')
    expect(small.manifest.info).toMatchObject({ filesRead: 1, rowsMerged: 30, tablesRebuilt: [], tablesMerged: ['ordering.orders'] })
    await microBatches(lakeRoot, 3, 30, 500, 11)
    const three = await publish({ lakeRoot, warehouse })
    if (!three.published) throw new Error('expected publish')
    expect(three.manifest.info).toMatchObject({ filesRead: 3, rowsMerged: 90 })
  })
})

describe('compaction', () => {
  it('merges micro-batches in one commit without changing any query result, before or after a publish', async () => {
    const { lakeRoot, warehouse, store } = await setup()
    await microBatches(lakeRoot, 6, 50, 40)
    await publish({ lakeRoot, warehouse })
    const before = [await query(store, probe), await query(store, probeHistory)]
    await microBatches(lakeRoot, 3, 50, 40, 6)
    const result = await compact({ lakeRoot, minFiles: 2 })
    expect(result.tables).toEqual([expect.objectContaining({ table: 'ordering.orders', filesIn: 9, rows: 450 })])
    const log = await CommitLog.open(lakeRoot)
    expect([...log.activeFiles().values()].map((f) => f.origin)).toEqual(['compaction'])
    // the three batches committed after the snapshot are read through the compacted file: mixed inputs rebuild
    const after = await publish({ lakeRoot, warehouse })
    if (!after.published) throw new Error('expected publish')
    expect(after.manifest.info).toMatchObject({ tablesRebuilt: ['ordering.orders'] })
    const fresh = await setup()
    await microBatches(fresh.lakeRoot, 9, 50, 40)
    await publish({ lakeRoot: fresh.lakeRoot, warehouse: fresh.warehouse })
    expect([await query(store, probe), await query(store, probeHistory)]).toEqual([await query(fresh.store, probe), await query(fresh.store, probeHistory)])
    expect(before[1]).toEqual([{ n: 300, v: 300 }])
    // compacting files the snapshot already merged reads nothing on the next publish
    await microBatches(lakeRoot, 2, 50, 40, 9)
    await publish({ lakeRoot, warehouse })
    await compact({ lakeRoot, minFiles: 2 })
    const noop = await publish({ lakeRoot, warehouse })
    if (!noop.published) throw new Error('expected publish')
    expect(noop.manifest.info).toMatchObject({ filesRead: 0, rowsMerged: 0, tablesRebuilt: [] })
    await microBatches(fresh.lakeRoot, 2, 50, 40, 9)
    await publish({ lakeRoot: fresh.lakeRoot, warehouse: fresh.warehouse })
    expect(await query(store, probe)).toEqual(await query(fresh.store, probe))
  })
})

describe('retention', () => {
  it('removes snapshots beyond the keep policy, replaced lake files and old orphans, never what is needed', async () => {
    const { lakeRoot, warehouse, store } = await setup({ keepSnapshots: 2 })
    for (let run = 0; run < 4; run++) {
      await commitExport(lakeRoot, { service: 'catalog', table: 'items', mode: 'full', parts: [`SELECT ${run} AS id`] })
      await publish({ lakeRoot, warehouse })
    }
    const orphan = join(lakeRoot, 'raw/exports/catalog/items/run=crashed/part-00000.parquet')
    await mkdir(dirname(orphan), { recursive: true })
    await writeFile(orphan, 'partial')
    const soon = await applyRetention({ lakeRoot, warehouse, orphanGraceMs: 3_600_000 })
    expect(soon.snapshotsRemoved).toEqual([1, 2])
    expect(soon.lakeFilesRemoved).toEqual([])
    expect(existsSync(orphan)).toBe(true)
    const later = await applyRetention({ lakeRoot, warehouse, orphanGraceMs: 3_600_000, now: new Date(Date.now() + 7_200_000) })
    expect(later.lakeFilesRemoved).toHaveLength(3)
    expect(later.orphansRemoved).toEqual(['raw/exports/catalog/items/run=crashed/part-00000.parquet'])
    expect(await store.list()).toEqual([3, 4])
    expect(await query(store, 'SELECT id FROM catalog.items')).toEqual([{ id: 3 }])
    expect(await query(store, 'SELECT id FROM catalog.items', 3)).toEqual([{ id: 2 }])
    // the lake still rebuilds from what is left
    const fresh = await setup()
    expect((await publish({ lakeRoot, warehouse: fresh.warehouse })).published).toBe(true)
    expect(await query(fresh.store, 'SELECT id FROM catalog.items')).toEqual([{ id: 3 }])
    const kept = await applyRetention({ lakeRoot, warehouse: { ...warehouse, keepSnapshots: 1, keepForHours: 1 } })
    expect(kept.snapshotsRemoved).toEqual([])
  })
})
