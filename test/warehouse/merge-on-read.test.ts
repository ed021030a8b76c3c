import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { applyRetention, publish, SnapshotStore, type SnapshotManifest } from '../../warehouse/index.ts'
import { tableFilePaths, type TableFiles } from '../../warehouse/table-files.ts'
import type { WarehouseConfig } from '../../warehouse/warehouse-config.ts'
import { commitChanges, commitExport } from '../helpers/lake-fixtures.ts'
import { query, setup } from './warehouse-setup.ts'

/** The table's current state and history as text, and the row count the snapshot's metadata claims. */
async function contents(store: SnapshotStore, table: string): Promise<{ current: string; history: number; claimed: number; counted: number }> {
  const [schema, name] = table.split('.') as [string, string]
  const [current] = await query(store, `SELECT coalesce(list(t ORDER BY t.id, t::VARCHAR)::VARCHAR, '') AS s, count(*)::INT AS n FROM ${schema}.${name} t`)
  const [history] = await query(store, `SELECT count(*)::INT AS n FROM ${schema}.${name}__history`)
  const [claimed] = await query(store, `SELECT rows::INT AS n FROM coldpipe.tables WHERE schema = '${schema}' AND name = '${name}'`)
  return { current: String(current!.s), history: Number(history!.n), claimed: Number(claimed!.n), counted: Number(current!.n) }
}

/** Publishes the lake into a brand-new warehouse: every table rebuilt from its files, the reference for merges. */
async function rebuilt(dir: string, lakeRoot: string, warehouse: WarehouseConfig, round: number): Promise<SnapshotStore> {
  const path = join(dir, `reference-${round}`)
  const result = await publish({ lakeRoot, warehouse: { ...warehouse, path } })
  if (!result.published) throw new Error('reference publish published nothing')
  return new SnapshotStore(path)
}

function filesOf(manifest: SnapshotManifest, table: string): TableFiles {
  return manifest.tableFiles![table]!
}

/** A change micro-batch as SQL: `rows` of (id, v, op, sourcePos), with a `tier` column from `withTier` on. */
function changeBatch(rows: { id: number; v: number; op: 'c' | 'u' | 'd'; pos: number }[], offset: number, withTier: boolean): string {
  const tuples = rows.map((r, i) => `(${r.id}, ${r.v}, '${r.op}', ${r.op === 'd'}, '${String(r.pos).padStart(20, '0')}', ${offset + i})`).join(', ')
  return `SELECT id::INT AS id, v::INT AS v${withTier ? `, (v % 3)::INT AS tier` : ''}, op AS _cp_op, del AS _cp_deleted, pos AS _cp_source_pos, off::BIGINT AS _cp_offset
    FROM (VALUES ${tuples}) t(id, v, op, del, pos, off)`
}

describe('merge-on-read: a small change writes a delta, not the table', () => {
  for (const softDeletes of [false, true]) {
    it(`CDC table${softDeletes ? ' with soft deletes' : ''}: updates, deletes, inserts, replays of older versions and a new column give the same state as a rebuild, with deltas between folds`, async () => {
      const { dir, lakeRoot, warehouse, store } = await setup({ softDeletes })
      const table = 'crm.accounts'
      const base = Array.from({ length: 500 }, (_, id) => ({ id, v: 0, op: 'c' as const, pos: id + 1 }))
      let offset = 0
      let pos = 1000
      await commitChanges(lakeRoot, { service: 'crm', table: 'accounts', key: ['id'], firstOffset: offset, lastOffset: offset + base.length - 1, selectSql: changeBatch(base, offset, false) })
      offset += base.length
      if (!(await publish({ lakeRoot, warehouse })).published) throw new Error('expected publish')
      let next = 500
      const kinds = { delta: 0, fold: 0 }
      for (let round = 1; round <= 12; round++) {
        const withTier = round >= 6
        const batch = [
          ...Array.from({ length: 10 }, (_, i) => ({ id: (round * 37 + i * 41) % 500, v: round, op: 'u' as const, pos: ++pos })),
          ...Array.from({ length: 3 }, (_, i) => ({ id: (round * 53 + i * 7) % 500, v: round, op: 'd' as const, pos: ++pos })),
          ...Array.from({ length: 5 }, () => ({ id: next++, v: round, op: 'c' as const, pos: ++pos })),
          // replays: older positions than what the table holds, must not win
          ...Array.from({ length: 2 }, (_, i) => ({ id: (round * 37 + i * 41) % 500, v: -round, op: 'u' as const, pos: 2 + i })),
        ]
        await commitChanges(lakeRoot, { service: 'crm', table: 'accounts', key: ['id'], firstOffset: offset, lastOffset: offset + batch.length - 1, selectSql: changeBatch(batch, offset, withTier) })
        offset += batch.length
        const before = (await store.current())!
        const result = await publish({ lakeRoot, warehouse })
        if (!result.published) throw new Error('expected publish')
        const now = filesOf(result.manifest, table)
        if (now.delta) {
          kinds.delta++
          expect(now.state).toBe(filesOf(before, table).state)
          expect(now.deltaRows).toBeLessThanOrEqual(Math.ceil(now.stateRows! * 0.2))
        } else {
          kinds.fold++
        }
        const merged = await contents(store, table)
        const reference = await contents(await rebuilt(dir, lakeRoot, warehouse, round), table)
        expect(merged).toEqual(reference)
        expect(merged.claimed).toBe(merged.counted)
        expect(merged.current).not.toContain(`-${round}`)
      }
      expect(kinds.delta).toBeGreaterThan(0)
      expect(kinds.fold).toBeGreaterThan(0)
    }, 300_000)
  }

  it('incremental export: re-exported keys replace their rows through the delta, and the state matches a rebuild', async () => {
    const { dir, lakeRoot, warehouse, store } = await setup()
    const part = (ids: string, v: number) => `SELECT id::INT AS id, ${v}::INT AS v, md5(id::VARCHAR || '${v}') AS note FROM (${ids}) t(id)`
    await commitExport(lakeRoot, { service: 'catalog', table: 'items', mode: 'incremental', key: ['id'], cursor: 'v', parts: [part('SELECT range FROM range(400)', 0)] })
    if (!(await publish({ lakeRoot, warehouse })).published) throw new Error('expected publish')
    let deltas = 0
    for (let round = 1; round <= 10; round++) {
      await commitExport(lakeRoot, { service: 'catalog', table: 'items', mode: 'incremental', key: ['id'], cursor: 'v', parts: [part(`SELECT (range * 17 + ${round}) % 420 FROM range(12)`, round)] })
      const result = await publish({ lakeRoot, warehouse })
      if (!result.published) throw new Error('expected publish')
      if (filesOf(result.manifest, 'catalog.items').delta) deltas++
      expect(await contents(store, 'catalog.items')).toEqual(await contents(await rebuilt(dir, lakeRoot, warehouse, round), 'catalog.items'))
    }
    expect(deltas).toBeGreaterThan(0)
    // Retention keeps every file a kept snapshot reads, the delta included, and removes the rest.
    const current = (await store.current())!
    expect(filesOf(current, 'catalog.items').delta).toBeDefined()
    const expected = await contents(store, 'catalog.items')
    const retained = await applyRetention({ lakeRoot, warehouse: { ...warehouse, keepSnapshots: 1, keepForHours: 0 }, orphanGraceMs: 0 })
    expect(retained.tableFilesRemoved).toBeGreaterThan(0)
    for (const path of tableFilePaths(filesOf(current, 'catalog.items'))) expect(existsSync(join(warehouse.path, path))).toBe(true)
    expect(await contents(store, 'catalog.items')).toEqual(expected)
  }, 300_000)

  it('keyless integration events: appended rows land in the delta and fold in, nothing lost or doubled', async () => {
    const { dir, lakeRoot, warehouse, store } = await setup()
    const events = (from: number, n: number) => `SELECT (${from} + range)::INT AS id, 'order-placed' AS type, (${from} + range)::BIGINT AS _cp_offset FROM range(${n})`
    await commitChanges(lakeRoot, { service: 'ordering', table: 'events', key: [], firstOffset: 0, lastOffset: 299, selectSql: events(0, 300) })
    if (!(await publish({ lakeRoot, warehouse })).published) throw new Error('expected publish')
    let deltas = 0
    for (let round = 1; round <= 8; round++) {
      const from = 300 + (round - 1) * 25
      await commitChanges(lakeRoot, { service: 'ordering', table: 'events', key: [], firstOffset: from, lastOffset: from + 24, selectSql: events(from, 25) })
      const result = await publish({ lakeRoot, warehouse })
      if (!result.published) throw new Error('expected publish')
      if (filesOf(result.manifest, 'ordering.events').delta) deltas++
      const merged = await contents(store, 'ordering.events')
      expect(merged.counted).toBe(300 + round * 25)
      expect(merged).toEqual(await contents(await rebuilt(dir, lakeRoot, warehouse, round), 'ordering.events'))
    }
    expect(deltas).toBeGreaterThan(0)
  }, 300_000)
})
