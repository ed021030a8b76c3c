import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { publish, SnapshotStore, type SnapshotManifest } from '../../warehouse/index.ts'
import { changeRowsSql, commitChanges, commitExport } from '../helpers/lake-fixtures.ts'
import { query, setup } from './warehouse-setup.ts'

async function published(result: Awaited<ReturnType<typeof publish>>): Promise<SnapshotManifest> {
  if (!result.published) throw new Error(`expected a publish: ${result.reason}`)
  return result.manifest
}

function canonical(row: Record<string, unknown>): string {
  return JSON.stringify(Object.keys(row).sort().map((k) => [k, row[k]]))
}

/**
 * Everything a reader can see in a snapshot: its relations, their columns and row counts, and every row. A
 * history's column order follows the order its files gained columns, which differs between a history grown
 * publish by publish and one written at once; the columns themselves may not.
 */
async function contents(store: SnapshotStore): Promise<unknown> {
  const columns = await query(store, `SELECT schema, "table", name, type, CASE WHEN "table" LIKE '%\_\_history' ESCAPE '\\' THEN NULL ELSE position END AS position FROM coldpipe.columns ORDER BY ALL`)
  const tables = await query(store, 'SELECT schema, name, rows FROM coldpipe.tables ORDER BY ALL')
  const relations = await query(store, `SELECT schema_name AS s, view_name AS v FROM duckdb_views() WHERE NOT internal AND schema_name NOT IN ('main', 'coldpipe') ORDER BY ALL`)
  const rows: Record<string, string[]> = {}
  for (const r of relations) rows[`${r.s}.${r.v}`] = (await query(store, `SELECT * FROM "${String(r.s)}"."${String(r.v)}"`)).map(canonical).sort()
  return { columns, tables, relations, rows }
}

describe('a publish builds on a copy of the previous snapshot file', () => {
  it('keeps unchanged tables\' views, re-points changed ones, drops removed ones, and equals a build from scratch; a damaged previous file falls back to scratch', async () => {
    const { dir, lakeRoot, warehouse, store } = await setup()
    const cols = { id: 'INTEGER', name: 'VARCHAR' }
    await commitExport(lakeRoot, { service: 'billing', table: 'invoices', mode: 'full', parts: ['SELECT range::INT AS id, range * 2 AS amount FROM range(50)'] })
    await commitExport(lakeRoot, { service: 'catalog', table: 'items', mode: 'incremental', key: ['id'], cursor: 'v', parts: ['SELECT range::INT AS id, 1 AS v FROM range(5)'] })
    await commitChanges(lakeRoot, { service: 'crm', table: 'people', key: ['id'], firstOffset: 0, lastOffset: 1, selectSql: changeRowsSql(cols, [
      { values: { id: 1, name: 'ada' }, op: 'c', sourcePos: 1, offset: 0 },
      { values: { id: 2, name: 'bob' }, op: 'c', sourcePos: 2, offset: 1 },
    ]) })
    await published(await publish({ lakeRoot, warehouse }))

    // one table changes and gains a column; the others are kept from the copied file
    await commitExport(lakeRoot, { service: 'catalog', table: 'items', mode: 'incremental', key: ['id'], cursor: 'v', parts: [`SELECT 2::INT AS id, 2 AS v, 'red' AS colour`] })
    const second = await published(await publish({ lakeRoot, warehouse }))
    expect(second.info).toMatchObject({ tablesMerged: ['catalog.items'], tablesKept: 2 })
    expect(await query(store, 'SELECT id, v, colour FROM catalog.items ORDER BY id')).toEqual([
      { id: 0, v: 1, colour: null }, { id: 1, v: 1, colour: null }, { id: 2, v: 2, colour: 'red' }, { id: 3, v: 1, colour: null }, { id: 4, v: 1, colour: null },
    ])
    expect(await query(store, `SELECT name FROM coldpipe.columns WHERE schema = 'catalog' AND "table" = 'items' ORDER BY position`)).toEqual([{ name: 'id' }, { name: 'v' }, { name: 'colour' }])

    // a change table merges, and a full export whose newest run is empty removes its table's relations
    await commitChanges(lakeRoot, { service: 'crm', table: 'people', key: ['id'], firstOffset: 2, lastOffset: 2, selectSql: changeRowsSql(cols, [
      { values: { id: 1, name: null }, op: 'd', sourcePos: 3, offset: 2 },
    ]) })
    await commitExport(lakeRoot, { service: 'billing', table: 'invoices', mode: 'full', parts: [] })
    const third = await published(await publish({ lakeRoot, warehouse }))
    expect(third.tableFiles?.['billing.invoices']).toBeUndefined()
    expect(await query(store, `SELECT count(*)::INT AS n FROM duckdb_views() WHERE schema_name = 'billing' OR view_name = 'billing__invoices'`)).toEqual([{ n: 0 }])
    expect(await query(store, 'SELECT id, name FROM crm.people')).toEqual([{ id: 2, name: 'bob' }])

    const scratch = new SnapshotStore(join(dir, 'scratch-wh'))
    const fromScratch = await published(await publish({ lakeRoot, warehouse: { ...warehouse, path: scratch.dir } }))
    expect(fromScratch.basedOn).toBeUndefined()
    expect(await contents(store)).toEqual(await contents(scratch))

    // a damaged previous file is not a start: the build starts from an empty file and is still complete
    await writeFile(store.databasePath(third.id), 'not a duckdb file')
    await commitExport(lakeRoot, { service: 'catalog', table: 'items', mode: 'incremental', key: ['id'], cursor: 'v', parts: [`SELECT 3::INT AS id, 3 AS v, 'blue' AS colour`] })
    await published(await publish({ lakeRoot, warehouse }))
    await published(await publish({ lakeRoot, warehouse: { ...warehouse, path: scratch.dir } }))
    expect(await contents(store)).toEqual(await contents(scratch))
    expect(await query(store, `SELECT colour FROM catalog.items WHERE id = 3`)).toEqual([{ colour: 'blue' }])
  }, 180_000)
})
