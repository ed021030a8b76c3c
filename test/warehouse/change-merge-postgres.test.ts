import { describe, expect, it } from 'vitest'
import { publish } from '../../warehouse/index.ts'
import { postgresSchema } from '../helpers/databases.ts'
import { changeRowsSql, commitChanges, type ChangeRow } from '../helpers/lake-fixtures.ts'
import { setup } from './warehouse-setup.ts'

/** Small deterministic PRNG so a failure reproduces. */
function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32)
}

describe('change merge against PostgreSQL', () => {
  it('shuffled, duplicated, out-of-order change events give exactly the table Postgres ends with', async () => {
    const { client, schema } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.items (id INT PRIMARY KEY, name TEXT, qty INT)`)
    const random = rng(42)
    const live = new Set<number>()
    const changes: ChangeRow[] = []
    let nextId = 1
    for (let pos = 1; pos <= 600; pos++) {
      const r = random()
      const ids = [...live]
      if (ids.length === 0 || r < 0.4) {
        const id = nextId++
        const row = { id, name: `n${pos}`, qty: Math.floor(random() * 100) }
        await client.query(`INSERT INTO ${schema}.items VALUES ($1, $2, $3)`, [row.id, row.name, row.qty])
        live.add(id)
        changes.push({ values: row, op: 'c', sourcePos: pos * 16, offset: pos })
      } else if (r < 0.8) {
        const id = ids[Math.floor(random() * ids.length)]!
        const row = { id, name: random() < 0.2 ? null : `u${pos}`, qty: Math.floor(random() * 100) }
        await client.query(`UPDATE ${schema}.items SET name = $2, qty = $3 WHERE id = $1`, [row.id, row.name, row.qty])
        changes.push({ values: row, op: 'u', sourcePos: pos * 16, offset: pos })
      } else {
        const id = ids[Math.floor(random() * ids.length)]!
        await client.query(`DELETE FROM ${schema}.items WHERE id = $1`, [id])
        live.delete(id)
        changes.push({ values: { id, name: null, qty: null }, op: 'd', sourcePos: pos * 16, offset: pos })
      }
    }
    const delivered = [...changes, ...changes.filter(() => random() < 0.25)]
    for (let i = delivered.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1))
      ;[delivered[i], delivered[j]] = [delivered[j]!, delivered[i]!]
    }
    const { lakeRoot, warehouse, store } = await setup()
    const cols = { id: 'INTEGER', name: 'VARCHAR', qty: 'INTEGER' }
    const batches = 5
    const size = Math.ceil(delivered.length / batches)
    for (let b = 0; b < batches; b++) {
      await commitChanges(lakeRoot, { service: 'inventory', table: 'items', key: ['id'], firstOffset: b * 1000, lastOffset: b * 1000 + 999,
        selectSql: changeRowsSql(cols, delivered.slice(b * size, (b + 1) * size)) })
      // publish after some batches so later batches carry events older than what a snapshot holds
      if (b === 1 || b === 3) await publish({ lakeRoot, warehouse })
    }
    await publish({ lakeRoot, warehouse })
    const expected = (await client.query(`SELECT id, name, qty FROM ${schema}.items ORDER BY id`)).rows
    const { db } = await store.openReadOnly()
    try {
      const actual = await db.all('SELECT id, name, qty FROM inventory.items ORDER BY id')
      expect(actual).toEqual(expected)
      expect(expected.length).toBeGreaterThan(20)
    } finally {
      db.close()
    }
  })
})
