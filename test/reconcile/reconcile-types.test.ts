import { describe, expect, it } from 'vitest'
import { mysqlDatabase, postgresSchema } from '../helpers/databases.ts'
import { pipeline, sourceConfig } from './reconcile-fixtures.ts'

/**
 * Every type the exports carry renders to the same canonical text on the source and in the warehouse (a match),
 * and a change to any one column is found in that column and no other.
 */
describe('reconcile renders every exported type the same on both sides', () => {
  it('PostgreSQL: decimal, timestamptz, json/jsonb, uuid, arrays, bytea, floats, NULLs', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`SET search_path = ${schema}`)
    await client.query(`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`)
    await client.query(`CREATE TABLE t (
      id int PRIMARY KEY, d numeric(12,2), dn numeric, f float8, r float4, b boolean, ts timestamptz, tsn timestamp, dt date, tm time,
      u uuid, j json, jb jsonb, ia int[], ta text[], tsa timestamptz[], na numeric(10,2)[], ba boolean[], by bytea, iv interval, t text, m mood, big bigint)`)
    await client.query(`INSERT INTO t VALUES
      (1, 1.5, 12345678901234567890.123456789, 1, 3.4, true, '2026-01-02 03:04:05.123456+02', '2026-01-02 03:04:05.5', '2026-01-02', '10:00:00.5',
       'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"b": 1,  "a": [1.0, "x y"]}', '{"b": 1, "a": [1.0, "x\\"y"]}', '{1,2,NULL}', '{"a,b","c\\"d",NULL,"é|~"}',
       '{"2026-01-01 00:00:00+00","2026-06-01 12:30:00.25+00"}', '{1.5,NULL,-2}', '{true,false}', '\\x00ff10', '1 day 02:03:04', 'a|b~c:d' || chr(10) || 'é', 'happy', 9007199254740993),
      (2, -0.01, 0, 1e20, -1.5e-7, false, '1970-01-01 00:00:00+00', '1999-12-31 23:59:59.999999', '0001-01-01', '23:59:59.999999',
       '00000000-0000-0000-0000-000000000000', '[]', '{}', '{}', '{}', '{}', '{}', '{}', '\\x', '-1 mons', '', 'sad', -1),
      (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
      (4, 0, 1.10, 0.1, 0.25, true, '2026-03-29 01:30:00+00', '2026-03-29 02:30:00', '2026-03-29', '00:00:00',
       'ffffffff-ffff-ffff-ffff-ffffffffffff', 'null', '"s"', '{-2147483648}', '{""}', '{NULL}', '{0.00}', '{NULL}', '\\x41', 'PT0S', 'NULL', 'ok', 0)`)
    // Rows 11.. carry one change each, in a different column, so each column's rendering is checked for difference too.
    const columns = ['d', 'dn', 'f', 'r', 'b', 'ts', 'tsn', 'dt', 'tm', 'u', 'j', 'jb', 'ia', 'ta', 'tsa', 'na', 'ba', 'by', 'iv', 't', 'm', 'big']
    await client.query(`INSERT INTO t SELECT 10 + n, d, dn, f, r, b, ts, tsn, dt, tm, u, j, jb, ia, ta, tsa, na, ba, by, iv, t, m, big FROM t, generate_series(1, ${columns.length}) n WHERE id = 1`)
    const p = await pipeline({ pg: sourceConfig('postgres', url, schema) }, [{ source: 'pg', timezone: 'UTC', tables: [{ name: 't', mode: 'full', key: ['id'], lagSeconds: 0, chunkRows: 1000 }] }])
    await p.load()
    const same = (await p.reconcile()).results[0]!
    expect(same.columnsNotCompared).toEqual([])
    expect(same.columnsCompared).toEqual(['id', ...columns])
    expect([...same.different, ...same.missing, ...same.extra]).toEqual([])
    expect(same).toMatchObject({ status: 'match', counts: { sourceRows: 4 + columns.length, warehouseRows: 4 + columns.length } })

    const changes: Record<string, string> = {
      d: `d = 1.51`, dn: `dn = dn + 0.000000001`, f: `f = 1.0000000000000002`, r: `r = 3.41`, b: `b = false`, ts: `ts = ts + interval '1 microsecond'`,
      tsn: `tsn = tsn - interval '1 microsecond'`, dt: `dt = dt + 1`, tm: `tm = '10:00:00.500001'`, u: `u = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12'`,
      j: `j = '{"b": 1, "a": [1.0, "x  y"]}'`, jb: `jb = '{"b": 1, "a": [1.00, "x\\"y"]}'`, ia: `ia = '{1,2}'`, ta: `ta = '{"a,b","c\\"d",NULL,"é|"}'`,
      tsa: `tsa = '{"2026-01-01 00:00:00+00","2026-06-01 12:30:00.26+00"}'`, na: `na = '{1.5,NULL,-2.01}'`, ba: `ba = '{true,NULL}'`, by: `by = '\\x00ff11'`,
      iv: `iv = '1 day 02:03:05'`, t: `t = 'a|b~c:d' || chr(10) || 'e'`, m: `m = 'ok'`, big: `big = 9007199254740992`,
    }
    for (const [i, column] of columns.entries()) await client.query(`UPDATE t SET ${changes[column]} WHERE id = ${11 + i}`)
    const diff = (await p.reconcile()).results[0]!
    expect(diff.status).toBe('mismatch')
    expect(diff.missing).toEqual([])
    expect(diff.extra).toEqual([])
    expect(Object.fromEntries(diff.different.map((r) => [r.key.id, r.columns]))).toEqual(Object.fromEntries(columns.map((c, i) => [String(11 + i), [c]])))
  }, 180_000)

  it('PostgreSQL: BC and infinite dates and timestamps, alone and in arrays, match; a change to one is found', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.eras (id int PRIMARY KEY, dt date, ts timestamp, tz timestamptz, da date[], ta timestamptz[])`)
    await client.query(`INSERT INTO ${schema}.eras VALUES
      (1, '0044-03-15 BC', '0044-03-15 12:30:00.5 BC', '0001-12-31 23:59:59.999999+00 BC', '{"0044-03-15 BC",NULL,"2024-01-01"}', '{"4713-01-01 00:00:00+00 BC"}'),
      (2, 'infinity', '-infinity', 'infinity', '{infinity,-infinity}', '{-infinity}'),
      (3, '2024-02-29', '2024-01-02 03:04:05', '2024-06-01 12:00:00+00', '{}', '{}'),
      (4, '-infinity', 'infinity', '-infinity', NULL, NULL)`)
    const p = await pipeline({ pg: sourceConfig('postgres', url, schema) }, [{ source: 'pg', timezone: 'UTC', tables: [{ name: 'eras', mode: 'full', key: ['id'], lagSeconds: 0, chunkRows: 1000 }] }])
    await p.load()
    const same = (await p.reconcile()).results[0]!
    expect(same.columnsNotCompared).toEqual([])
    expect([...same.different, ...same.missing, ...same.extra], JSON.stringify(same.error)).toEqual([])
    expect(same, JSON.stringify(same.error)).toMatchObject({ status: "match", counts: { sourceRows: 4, warehouseRows: 4 } })

    await client.query(`UPDATE ${schema}.eras SET dt = '0044-03-16 BC' WHERE id = 1`)
    await client.query(`UPDATE ${schema}.eras SET tz = '-infinity' WHERE id = 2`)
    await client.query(`UPDATE ${schema}.eras SET da = '{"0044-03-15 BC"}' WHERE id = 3`)
    const diff = (await p.reconcile()).results[0]!
    expect(diff.status, JSON.stringify(diff.error)).toBe('mismatch')
    expect(Object.fromEntries(diff.different.map((r) => [r.key.id, r.columns]))).toEqual({ 1: ['dt'], 2: ['tz'], 3: ['da'] })
  }, 180_000)

  it('PostgreSQL: a column of an unmapped type, left out of the export by columns:, is left out of the comparison too', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE DOMAIN ${schema}.price AS numeric(10,2)`)
    await client.query(`CREATE TABLE ${schema}.shops (id int PRIMARY KEY, at point, price ${schema}.price, name text)`)
    await client.query(`INSERT INTO ${schema}.shops VALUES (1, '(1,2)', 12.5, 'a'), (2, NULL, NULL, 'b')`)
    const p = await pipeline({ pg: sourceConfig('postgres', url, schema) }, [{ source: 'pg', timezone: 'UTC', tables: [{ name: 'shops', mode: 'full', key: ['id'], columns: ['id', 'price', 'name'], lagSeconds: 0, chunkRows: 1000 }] }])
    await p.load()
    const same = (await p.reconcile()).results[0]!
    expect(same, JSON.stringify(same.error)).toMatchObject({ status: 'match', columnsCompared: ['id', 'price', 'name'] })
    await client.query(`UPDATE ${schema}.shops SET price = 12.51 WHERE id = 1`)
    const diff = (await p.reconcile()).results[0]!
    expect(diff.different).toEqual([{ key: { id: '1' }, columns: ['price'] }])
  }, 180_000)

  it('MariaDB: decimal, datetime/timestamp, json, uuid, floats, blobs, bit, enum, unsigned, NULLs', async () => {
    const { connection, database, url } = await mysqlDatabase()
    await connection.query(`CREATE TABLE ${database}.t (
      id int PRIMARY KEY, d decimal(12,2), f double, r float, ts timestamp(6) NULL, dtm datetime(6), dt date, tm time(6), u uuid, j json,
      s varchar(50) CHARACTER SET utf8mb4, l longtext, bl blob, bt bit(8), e enum('a','b'), ub bigint unsigned, y year, ti tinyint(1))`)
    await connection.query(`INSERT INTO ${database}.t VALUES
      (1, 1.5, 1, 3.4, '2026-01-02 03:04:05.123456', '2026-01-02 03:04:05.5', '2026-01-02', '10:00:00.5', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
       '{"b": 1,  "a": [1.0, "x y"]}', 'a|b~c:dé', REPEAT('x', 1000), X'00FF10', b'101', 'b', 18446744073709551615, 2026, 1),
      (2, -0.01, 1e20, -1.5e-7, '1970-01-01 00:00:01', '1000-01-01 00:00:00', '1000-01-01', '23:59:59.999999', '00000000-0000-0000-0000-000000000000',
       '[]', '', '', X'', b'0', 'a', 0, 1901, 0),
      (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '11111111-2222-3333-4444-555555555555', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`)
    // (A NULL MariaDB uuid stops the export itself: IFNULL(uuid, '') is NULL there, see the report; not a reconcile matter.)
    const columns = ['d', 'f', 'r', 'ts', 'dtm', 'dt', 'tm', 'u', 'j', 's', 'l', 'bl', 'bt', 'e', 'ub', 'y', 'ti']
    await connection.query(`INSERT INTO ${database}.t SELECT 10 + seq, d, f, r, ts, dtm, dt, tm, u, j, s, l, bl, bt, e, ub, y, ti FROM ${database}.t, seq_1_to_${columns.length} WHERE id = 1`)
    const p = await pipeline({ maria: sourceConfig('mysql', url) }, [{ source: 'maria', timezone: 'UTC', tables: [{ name: 't', mode: 'full', key: ['id'], lagSeconds: 0, chunkRows: 1000 }] }])
    await p.load()
    const same = (await p.reconcile()).results[0]!
    expect(same.columnsCompared).toEqual(['id', ...columns])
    expect([...same.different, ...same.missing, ...same.extra]).toEqual([])
    expect(same).toMatchObject({ status: 'match', counts: { sourceRows: 3 + columns.length, warehouseRows: 3 + columns.length } })

    const changes: Record<string, string> = {
      d: `d = 1.51`, f: `f = 1.001`, r: `r = 3.5`, ts: `ts = '2026-01-02 03:04:05.123457'`, dtm: `dtm = '2026-01-02 03:04:05.4'`, dt: `dt = '2026-01-03'`,
      tm: `tm = '10:00:00.6'`, u: `u = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12'`, j: `j = '{"b": 1,  "a": [1.0, "x  y"]}'`, s: `s = 'a|b~c:de'`,
      l: `l = REPEAT('x', 1001)`, bl: `bl = X'00FF11'`, bt: `bt = b'100'`, e: `e = 'a'`, ub: `ub = 18446744073709551614`, y: `y = 2025`, ti: `ti = 2`,
    }
    for (const [i, column] of columns.entries()) await connection.query(`UPDATE ${database}.t SET ${changes[column]} WHERE id = ${11 + i}`)
    const diff = (await p.reconcile()).results[0]!
    expect(diff.status).toBe('mismatch')
    expect(Object.fromEntries(diff.different.map((r) => [r.key.id, r.columns]))).toEqual(Object.fromEntries(columns.map((c, i) => [String(11 + i), [c]])))
  }, 180_000)

  it('MariaDB without NO_ZERO_DATE: zero dates (landed as NULL) and year 0000 (landed as 1 BC) match; a change to one is found', async () => {
    const { connection, database, url } = await mysqlDatabase()
    await connection.query(`SET SESSION sql_mode = ''`)
    await connection.query(`SET time_zone = '+00:00'`)
    await connection.query(`CREATE TABLE ${database}.legacy (id int PRIMARY KEY, d date, dt datetime(6), ts timestamp(6) NULL)`)
    await connection.query(`INSERT INTO ${database}.legacy VALUES
      (1, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00'),
      (2, '2024-00-15', '2024-02-00 01:02:03', '2024-01-01 00:00:00'),
      (3, '0000-03-04', '0000-01-15 10:00:00', '1970-01-01 00:00:01'),
      (4, '2024-01-15', '2024-02-01 01:02:03.5', NULL)`)
    const p = await pipeline({ maria: sourceConfig('mysql', url) }, [{ source: 'maria', timezone: 'UTC', tables: [{ name: 'legacy', mode: 'full', key: ['id'], lagSeconds: 0, chunkRows: 1000 }] }])
    await p.load()
    const same = (await p.reconcile()).results[0]!
    expect([...same.different, ...same.missing, ...same.extra], JSON.stringify(same.error)).toEqual([])
    expect(same).toMatchObject({ status: 'match', counts: { sourceRows: 4, warehouseRows: 4 } })

    await connection.query(`UPDATE ${database}.legacy SET d = '0000-03-05', dt = '0000-01-15 10:00:00.000001' WHERE id = 3`)
    await connection.query(`UPDATE ${database}.legacy SET d = '2024-01-16' WHERE id = 1`)
    await connection.query(`UPDATE ${database}.legacy SET dt = '2024-02-01 01:02:03' WHERE id = 2`)
    const diff = (await p.reconcile()).results[0]!
    expect(diff.status, JSON.stringify(diff.error)).toBe('mismatch')
    expect(Object.fromEntries(diff.different.map((r) => [r.key.id, r.columns]))).toEqual({ 1: ['d'], 2: ['dt'], 3: ['d', 'dt'] })
  }, 180_000)
})
