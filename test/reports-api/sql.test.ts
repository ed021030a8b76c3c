import { describe, expect, it } from 'vitest'
import { sandboxSettings } from '../../warehouse/sql-sandbox.ts'
import { testApi } from './api-harness.ts'

const analyst = { key: 'analyst-key-0001', name: 'analyst', reports: ['*'], sql: true, jobs: false }
const reader = { key: 'reader-key-00001', name: 'reader', reports: ['top_buyers'], sql: false, jobs: false }

async function sqlApi(overrides: Record<string, unknown> = {}) {
  return testApi({ config: { sqlEnabled: true, apiKeys: [analyst, reader], sqlTimeoutMs: 500, sqlMaxRows: 100, ...overrides } })
}

function post(sql: string, key = analyst.key) {
  return { method: 'POST' as const, url: '/sql', headers: { 'x-api-key': key }, payload: { sql } }
}

describe('POST /sql', () => {
  it('runs one read-only query on the current snapshot, capped at sqlMaxRows', async () => {
    const { app } = await sqlApi()
    const res = await app.inject(post('select status, count(*) as n, sum(unit_price) as total from ordering.orders group by status order by status'))
    expect(res.statusCode).toBe(200)
    const body = res.json()
    expect(body.rows).toHaveLength(4)
    expect(body.rows[0]).toMatchObject({ status: 'cancelled', n: '75' })
    expect(body.columns.map((c: { type: string }) => c.type)).toEqual(['VARCHAR', 'BIGINT', expect.stringMatching(/DECIMAL/)])
    expect(body.truncated).toBe(false)
    const capped = (await app.inject(post('select * from ordering.orders'))).json()
    expect(capped.rows).toHaveLength(100)
    expect(capped.truncated).toBe(true)
    expect((await app.inject(post('with t as (select 1 as x) select * from t;'))).statusCode).toBe(200)
    // Keywords inside strings or quoted identifiers are data, not statements.
    const quoted = await app.inject(post(`select 'copy; attach' as "load", count(*) as n from ordering.orders where status <> 'drop table'`))
    expect(quoted.json().rows).toEqual([{ load: 'copy; attach', n: '300' }])
  })

  it('is off by default, and off without API keys', async () => {
    const off = await testApi({ config: { apiKeys: [analyst] } })
    expect((await off.app.inject(post('select 1'))).json().error.code).toBe('SQL_DISABLED')
    const open = await testApi({ config: { sqlEnabled: true } })
    const res = await open.app.inject({ method: 'POST', url: '/sql', payload: { sql: 'select 1' } })
    expect(res.statusCode).toBe(404)
    expect(res.json().error.code).toBe('SQL_DISABLED')
  })

  it('needs a key with sql: true', async () => {
    const { app } = await sqlApi()
    const none = await app.inject({ method: 'POST', url: '/sql', payload: { sql: 'select 1' } })
    expect(none.statusCode).toBe(401)
    expect(none.json().error.code).toBe('AUTH_REQUIRED')
    const wrong = await app.inject(post('select 1', 'not-a-real-key'))
    expect(wrong.json().error.code).toBe('AUTH_REQUIRED')
    const noSql = await app.inject(post('select 1', reader.key))
    expect(noSql.statusCode).toBe(403)
    expect(noSql.json().error.code).toBe('AUTH_FORBIDDEN')
  })

  it('refuses everything but one SELECT, naming the statement kind', async () => {
    const { app } = await sqlApi()
    const cases: [string, string][] = [
      ["COPY ordering.orders TO '/tmp/coldpipe-leak.csv'", 'COPY'],
      ["copy (select * from ordering.buyers) to '/tmp/coldpipe-leak.parquet' (format parquet)", 'COPY'],
      ["ATTACH '/tmp/other.duckdb' AS other", 'ATTACH'],
      ['DETACH other', 'DETACH'],
      ['INSTALL httpfs', 'INSTALL'],
      ['LOAD httpfs', 'LOAD'],
      ['SET enable_external_access = true', 'SET'],
      ['RESET threads', 'RESET'],
      ['PRAGMA version', 'PRAGMA'],
      ['CALL pragma_version()', 'CALL'],
      ["EXPORT DATABASE '/tmp/coldpipe-export'", 'EXPORT'],
      ["IMPORT DATABASE '/tmp/coldpipe-export'", 'IMPORT'],
      ['CREATE TABLE t AS SELECT 1', 'CREATE'],
      ['INSERT INTO ordering.orders SELECT * FROM ordering.orders', 'INSERT'],
      ["UPDATE ordering.buyers SET name = 'x'", 'UPDATE'],
      ['DELETE FROM ordering.orders', 'DELETE'],
      ['DROP TABLE ordering.orders', 'DROP'],
      ['ALTER TABLE ordering.orders ADD COLUMN x INT', 'ALTER'],
      ['select 1; select 2', 'MULTIPLE'],
      ['select 1; drop table ordering.orders', 'MULTIPLE'],
      ["/* hi */ -- there\n  attach 'x.db'", 'ATTACH'],
      ["with x as (select 1) insert into ordering.buyers select * from ordering.buyers", 'INSERT'],
      ["select * from read_csv('/etc/passwd')", 'FILE_ACCESS'],
      ["select * from read_text('/etc/passwd')", 'FILE_ACCESS'],
      ['select * from "read_text"(\'/etc/passwd\')', 'FILE_ACCESS'],
      ["select * from read_blob('/etc/shadow')", 'FILE_ACCESS'],
      ["select * from '/etc/passwd'", 'FILE_ACCESS'],
      ["select * from glob('/etc/*')", 'FILE_ACCESS'],
      ["select * from read_parquet('https://example.com/x.parquet')", 'FILE_ACCESS'],
    ]
    for (const [sql, kind] of cases) {
      const res = await app.inject(post(sql))
      expect(res.json().error, sql).toMatchObject({ code: 'SQL_FORBIDDEN', details: { statement: kind } })
      expect(res.statusCode, sql).toBe(400)
    }
    // Nothing leaked and the snapshot is unchanged.
    const { existsSync } = await import('node:fs')
    expect(existsSync('/tmp/coldpipe-leak.csv')).toBe(false)
    expect((await app.inject(post('select count(*) as n from ordering.orders'))).json().rows[0].n).toBe('300')
  })

  it('reports SQL errors as SQL_INVALID', async () => {
    const { app } = await sqlApi()
    const res = await app.inject(post('select nope from ordering.orders'))
    expect(res.statusCode).toBe(400)
    expect(res.json().error.code).toBe('SQL_INVALID')
    expect((await app.inject(post('selec 1'))).json().error.code).toBe('SQL_FORBIDDEN')
    expect((await app.inject(post('select from where'))).json().error.code).toBe('SQL_INVALID')
  })

  it('stops a query that would run forever with SQL_TIMEOUT, and keeps serving', async () => {
    const { app } = await sqlApi({ sqlTimeoutMs: 300 })
    for (const sql of [
      'with recursive r(n) as (select 1 union all select n + 1 from r) select count(*) from r',
      'select count(*) from range(1000000000) a, range(1000000000) b',
    ]) {
      const res = await app.inject(post(sql))
      expect(res.json().error?.code, sql).toBe('SQL_TIMEOUT')
      expect(res.statusCode).toBe(504)
    }
    expect((await app.inject(post('select 42 as answer'))).json().rows).toEqual([{ answer: 42 }])
  })

  it('runs on a sandboxed DuckDB instance that refuses files, extensions and settings by itself', async () => {
    const { store } = await sqlApi()
    const { db } = await store.openReadOnly(undefined, { settings: sandboxSettings('256MB') })
    try {
      for (const sql of [
        "select * from read_text('/etc/passwd')",
        "select * from '/etc/passwd'",
        "copy (select 1) to '/tmp/coldpipe-sandbox-leak.csv'",
        "attach '/tmp/coldpipe-sandbox.duckdb'",
        'install httpfs',
        'load httpfs',
        'set enable_external_access = true',
        'set lock_configuration = false',
      ]) {
        await expect(db.all(sql), sql).rejects.toThrow()
      }
      expect(await db.all('select count(*)::INTEGER as n from ordering.orders')).toEqual([{ n: 300 }])
    } finally {
      db.close()
    }
  })
})
