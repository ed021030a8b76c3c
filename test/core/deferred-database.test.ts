import { describe, expect, it } from 'vitest'
import { DeferredDatabase, openDatabase, openSoon, type Database } from '../../core/duckdb/index.ts'
import { ColdpipeError } from '../../core/errors.ts'

/** A DeferredDatabase over a real in-memory DuckDB, counting opens and keeping what it opened. */
function counted(fail = false): { db: DeferredDatabase; opens: () => number; inner: () => Database | undefined } {
  let opens = 0
  let inner: Database | undefined
  const db = new DeferredDatabase(':memory:', false, async () => {
    opens++
    // An invalid setting makes DuckDB itself refuse to open.
    inner = await openDatabase(':memory:', fail ? { memoryLimit: 'lots' } : {})
    return inner
  })
  return { db, opens: () => opens, inner: () => inner }
}

describe('DeferredDatabase', () => {
  it('opens on first use, once, and answers like the database it opened', async () => {
    const { db, opens } = counted()
    expect(opens()).toBe(0)
    db.interrupt() // nothing runs yet: a no-op, not an open
    expect(opens()).toBe(0)
    const [a, b] = await Promise.all([db.all<{ x: number }>('SELECT 42 AS x'), db.queryJson('SELECT $v::VARCHAR AS v', { v: 'ok' })])
    expect(a).toEqual([{ x: 42 }])
    expect(b.rows).toEqual([{ v: 'ok' }])
    expect(opens()).toBe(1)
    db.close()
  })

  it('openSoon opens in the background; close before the open finishes closes what it opened', async () => {
    const { db, opens, inner } = counted()
    openSoon(db)
    expect(opens()).toBe(1)
    db.close()
    await expect.poll(() => inner(), { timeout: 30_000 }).toBeDefined()
    // The connection opened after close() was closed by it: using it fails.
    await expect.poll(async () => inner()!.all('SELECT 1').then(() => 'open', () => 'closed'), { timeout: 30_000 }).toBe('closed')
  })

  it('a failed open fails each use with the open’s coded error', async () => {
    const { db } = counted(true)
    openSoon(db) // the background failure is not unhandled
    const failure = await db.run('SELECT 1').catch((error: unknown) => error)
    expect(failure).toBeInstanceOf(ColdpipeError)
    expect((failure as ColdpipeError).code).toBe('WAREHOUSE_QUERY_FAILED')
    expect((failure as ColdpipeError).message).toMatch(/cannot open DuckDB database :memory:/)
    db.close()
  })
})
