import { describe, expect, it, onTestFinished } from 'vitest'
import { openDatabase } from '../../core/duckdb/index.ts'
import { StatementCache } from '../../reports-api/statement-cache.ts'

describe('StatementCache', () => {
  it('runs each SQL text with the parameters of each call, past its size and after failures', async () => {
    const db = await openDatabase(':memory:')
    onTestFinished(() => db.close())
    await db.run('CREATE TABLE t AS SELECT range::INTEGER AS n, (range * 10)::BIGINT AS big FROM range(10)')
    const other = await db.connect()
    onTestFinished(() => other.close())
    const cache = new StatementCache(2)
    const upTo = 'SELECT n, big FROM t WHERE n < $limit ORDER BY n'
    const above = 'SELECT count(*) AS c FROM t WHERE n > $min'
    const named = 'SELECT $name AS name, $flag AS flag'

    // The same text with other parameters, on one connection and on another.
    expect((await cache.queryJson(db, upTo, { limit: 3 })).rows).toEqual([
      { n: 0, big: '0' },
      { n: 1, big: '10' },
      { n: 2, big: '20' },
    ])
    expect((await cache.queryJson(db, upTo, { limit: 1 })).rows).toEqual([{ n: 0, big: '0' }])
    expect((await cache.queryJson(other, upTo, { limit: 2 })).rows).toHaveLength(2)
    // A null where a value was bound before is bound as null, not left over.
    expect((await cache.queryJson(db, named, { name: 'x', flag: true })).rows).toEqual([{ name: 'x', flag: true }])
    expect((await cache.queryJson(db, named, { name: null, flag: false })).rows).toEqual([{ name: null, flag: false }])
    // A third text on the connection closes the least recently used one; every text still answers right.
    expect((await cache.queryJson(db, above, { min: 7 })).rows).toEqual([{ c: '2' }])
    expect((await cache.queryJson(db, upTo, { limit: 2 })).rows).toHaveLength(2)
    expect((await cache.queryJson(db, named, { name: 'y', flag: null })).rows).toEqual([{ name: 'y', flag: null }])
    expect((await cache.queryJson(db, above, { min: 8 })).rows).toEqual([{ c: '1' }])
    // A text that does not prepare fails as DuckDB's error, and a run that fails leaves its statement usable.
    await expect(cache.queryJson(db, 'SELECT missing FROM t', {})).rejects.toMatchObject({ code: 'WAREHOUSE_QUERY_FAILED' })
    await expect(cache.queryJson(db, upTo, { limit: 'many' })).rejects.toMatchObject({ code: 'WAREHOUSE_QUERY_FAILED' })
    expect((await cache.queryJson(db, upTo, { limit: 1 })).rows).toEqual([{ n: 0, big: '0' }])
  })
})
