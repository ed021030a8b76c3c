import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { failOnFailedTables } from '../../cli/export-stage.ts'
import { openDatabase } from '../../core/duckdb/index.ts'
import { postgresSchema } from '../helpers/databases.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { readExported, testExporter } from './export-fixtures.ts'

describe('postgres export types', () => {
  it('round-trips every mapped type exactly, with NULLs and empty strings', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`SET search_path = ${schema}`)
    await client.query(`CREATE TYPE mood AS ENUM ('sad', 'happy')`)
    await client.query(`CREATE TABLE typed (
      id int PRIMARY KEY, i2 smallint, i8 bigint, n numeric(38,9), n2 numeric(12,2), nbig numeric(50,5), nany numeric,
      f8 double precision, t text, vc varchar(10), b boolean, d date, ts timestamp(6), tstz timestamptz, tm time,
      u uuid, j json, jb jsonb, by bytea, m mood, ai int[], at text[], an numeric(10,2)[])`)
    await client.query(`INSERT INTO typed VALUES
      (1, -32768, 9223372036854775807, 12345678901234567890.123456789, -0.01, 123456789012345678901234567890123456789012345.12345, 1.5e-20,
       0.1, 'a "quoted", line\nbreak', '', true, '2024-02-29', '2024-01-02 03:04:05.123456', '2024-06-01 12:00:00.654321+05:30', '23:59:59.999999',
       'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2.50]}', '{"b": null}', '\\x00ff0010', 'happy', '{1,NULL,3}', '{"x",NULL,"","y,z"}', '{1.10,NULL}'),
      (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
      (3, 0, -1, -0.000000001, 0, 0, 0, -1.5e300, '', E'x\\ry\\r\\nz', false, '0001-01-01', '1999-12-31 23:59:59', '1970-01-01 00:00:00-08', '00:00:00',
       '00000000-0000-0000-0000-000000000000', '[]', '[]', '\\x', 'sad', '{}', '{}', '{}')`)
    const lake = await tempDir()
    const exporter = testExporter({ sources: { shop: { kind: 'postgres', url, schema } }, lakeRoot: lake })
    const [record] = await exporter.runExport({ source: 'shop', timezone: 'UTC', tables: [{ name: 'typed', mode: 'full', lagSeconds: 0, chunkRows: 2 }] }, { runId: 'r1' })
    expect(record?.status, JSON.stringify(record?.error)).toBe('committed')
    expect(record?.rows).toBe(3)
    expect(record?.files).toHaveLength(2)

    const { rows, columns } = await readExported(lake, 'shop', 'typed', 'id')
    expect(Object.fromEntries(columns.map((c) => [c.name, c.type]))).toEqual({
      id: 'INTEGER', i2: 'SMALLINT', i8: 'BIGINT', n: 'DECIMAL(38,9)', n2: 'DECIMAL(12,2)', nbig: 'VARCHAR', nany: 'VARCHAR',
      f8: 'DOUBLE', t: 'VARCHAR', vc: 'VARCHAR', b: 'BOOLEAN', d: 'DATE', ts: 'TIMESTAMP', tstz: 'TIMESTAMPTZ', tm: 'TIME',
      u: 'UUID', j: 'JSON', jb: 'JSON', by: 'BLOB', m: 'VARCHAR', ai: 'INTEGER[]', at: 'VARCHAR[]', an: 'DECIMAL(10,2)[]',
    })
    // Compare value by value with Postgres's own text rendering (session in UTC).
    await client.query(`SET TimeZone = 'UTC'`)
    const db = await openDatabase(':memory:')
    try {
      const text = await db.queryJson(`SELECT id, n::VARCHAR n, n2::VARCHAR n2, tstz::VARCHAR tstz, ts::VARCHAR ts, hex("by") "by", ai::VARCHAR ai, "at"::VARCHAR "at", an::VARCHAR an, j::VARCHAR j, jb::VARCHAR jb
        FROM read_parquet('${lake}/raw/exports/shop/typed/*/*.parquet', hive_partitioning=false) ORDER BY id`)
      const r = text.rows
      expect(r[0]).toMatchObject({ n: '12345678901234567890.123456789', n2: '-0.01', tstz: '2024-06-01 06:30:00.654321+00', ts: '2024-01-02 03:04:05.123456', by: '00FF0010', ai: '[1, NULL, 3]', at: "[x, NULL, '', 'y,z']", an: '[1.10, NULL]', j: '{"a": [1, 2.50]}', jb: '{"b": null}' })
      expect(r[2]).toMatchObject({ n: '-0.000000001', tstz: '1970-01-01 08:00:00+00', by: '', ai: '[]' })
    } finally {
      db.close()
    }
    expect(rows[0]).toMatchObject({ id: 1, i2: -32768, i8: '9223372036854775807', nbig: '123456789012345678901234567890123456789012345.12345', nany: '0.000000000000000000015', f8: 0.1, t: 'a "quoted", line\nbreak', vc: '', b: true, d: '2024-02-29', tm: '23:59:59.999999', u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', m: 'happy' })
    expect(rows[1]).toEqual(Object.fromEntries(Object.keys(rows[1]!).map((k) => [k, k === 'id' ? 2 : null])))
    // A carriage return first in a chunk once made DuckDB take \r for the line end and fail the export.
    expect(rows[2]).toMatchObject({ i2: 0, i8: '-1', t: '', vc: 'x\ry\r\nz', b: false, d: '0001-01-01', f8: -1.5e300, tm: '00:00:00', j: '[]', m: 'sad' })
    expect((rows[2] as { at: unknown }).at).toEqual([])
    expect((rows[0] as { at: unknown }).at).toEqual(['x', null, '', 'y,z'])
  })

  it('keeps years before 1 AD (PostgreSQL writes them with a trailing BC) in dates, timestamps and their arrays', async () => {
    const { client, schema, url } = await postgresSchema()
    // A name with `$'` also checks that column names never act as replacement patterns in the conversion SQL.
    await client.query(`CREATE TABLE ${schema}.eras (id int PRIMARY KEY, d date, ts timestamp(6), "t$'z" timestamptz, ds date[])`)
    await client.query(`INSERT INTO ${schema}.eras VALUES
      (1, '0044-03-15 BC', '0044-03-15 12:30:00.5 BC', '0001-12-31 23:59:59.999999+00 BC', '{"0044-03-15 BC",NULL,"2024-01-01"}'),
      (2, '4713-01-01 BC', '4713-01-01 00:00:00 BC', '4713-01-01 00:00:00+00 BC', '{}'),
      (3, '2024-02-29', '2024-01-02 03:04:05', '2024-06-01 12:00:00+00', '{"1999-12-31"}'),
      (4, 'infinity', '-infinity', 'infinity', NULL)`)
    const lake = await tempDir()
    const exporter = testExporter({ sources: { shop: { kind: 'postgres', url, schema } }, lakeRoot: lake })
    const [record] = await exporter.runExport({ source: 'shop', timezone: 'UTC', tables: [{ name: 'eras', mode: 'full', lagSeconds: 0, chunkRows: 100 }] }, { runId: 'r1' })
    expect(record?.status, JSON.stringify(record?.error)).toBe('committed')
    // The same instants as PostgreSQL counts them: seconds from 1970 (microseconds for the timestamps), BC included.
    const { rows: expected } = await client.query(`SET TimeZone = 'UTC'; SELECT id,
        (d - DATE '1970-01-01')::text AS d, (extract(epoch FROM ts) * 1000000)::bigint::text AS ts, (extract(epoch FROM "t$'z") * 1000000)::bigint::text AS tz,
        (SELECT string_agg(coalesce((x - DATE '1970-01-01')::text, 'null'), ',' ORDER BY n) FROM unnest(ds) WITH ORDINALITY AS u(x, n)) AS ds
      FROM ${schema}.eras WHERE id < 4 ORDER BY id`).then((results) => (Array.isArray(results) ? results[1]! : results))
    const db = await openDatabase(':memory:')
    try {
      const { rows } = await db.queryJson(`SELECT id, (d - DATE '1970-01-01')::VARCHAR AS d, epoch_us(ts)::VARCHAR AS ts, epoch_us("t$'z")::VARCHAR AS tz,
          array_to_string(list_transform(ds, x -> coalesce((x - DATE '1970-01-01')::VARCHAR, 'null')), ',') AS ds,
          d::VARCHAR AS dt, ts::VARCHAR AS tst, "t$'z"::VARCHAR AS tzt
        FROM read_parquet('${lake}/raw/exports/shop/eras/*/*.parquet', hive_partitioning=false) ORDER BY id`)
      expect(rows.slice(0, 3).map(({ id, d, ts, tz, ds }) => ({ id, d, ts, tz, ds: ds === '' ? null : ds }))).toEqual(expected.map((e: Record<string, unknown>) => ({ ...e, ds: e.ds ?? null })))
      expect(rows[0]).toMatchObject({ dt: '0044-03-15 (BC)', tst: '0044-03-15 (BC) 12:30:00.5', tzt: '0001-12-31 (BC) 23:59:59.999999+00' })
      expect(rows[3]).toMatchObject({ dt: 'infinity', tst: '-infinity', tzt: 'infinity' })
    } finally {
      db.close()
    }
  })

  it('reads on from a watermark of a BC date or timestamp (DuckDB renders it "(BC)", PostgreSQL wants a trailing BC)', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.digs (id int PRIMARY KEY, found date, dated timestamptz)`)
    await client.query(`INSERT INTO ${schema}.digs VALUES (1, '0300-01-01 BC', '0300-01-01 00:00:00+00 BC'), (2, '0044-03-15 BC', '0044-03-15 12:30:00.5+00 BC')`)
    const lake = await tempDir()
    const exporter = testExporter({ sources: { shop: { kind: 'postgres', url, schema } }, lakeRoot: lake })
    const byDate = { name: 'digs', mode: 'incremental' as const, cursor: 'found', key: ['id'], lagSeconds: 0, chunkRows: 100 }
    const byTime = { ...byDate, cursor: 'dated', lagSeconds: 60 }
    const run = async (runId: string, table: typeof byDate) => {
      const [record] = await exporter.runExport({ source: 'shop', timezone: 'UTC', tables: [table] }, { runId })
      expect(record?.status, JSON.stringify(record?.error)).toBe('committed')
      return record!
    }
    expect((await run('d1', byDate)).rows).toBe(2)
    // The second run reads after the BC watermark: nothing new, and no PostgreSQL syntax error.
    expect((await run('d2', byDate)).rows).toBe(0)
    await client.query(`INSERT INTO ${schema}.digs VALUES (3, '0044-03-16 BC', '0044-03-15 12:30:00.6+00 BC'), (4, '0010-01-01', '0010-01-01 00:00:00+00')`)
    const third = await run('d3', byDate)
    expect(third.rows).toBe(2)
    expect(third.watermarkAfter).toBe('0010-01-01')

    // A timestamptz cursor with a lag window: the first run ends on a BC instant, the next reads from it less the lag.
    await client.query(`DELETE FROM ${schema}.digs WHERE id >= 3`)
    const lakeByTime = await tempDir()
    const timed = testExporter({ sources: { shop: { kind: 'postgres', url, schema } }, lakeRoot: lakeByTime })
    const [t1] = await timed.runExport({ source: 'shop', timezone: 'UTC', tables: [byTime] }, { runId: 't1' })
    expect(t1?.status, JSON.stringify(t1?.error)).toBe('committed')
    expect(t1?.watermarkAfter).toBe('0044-03-15 (BC) 12:30:00.5+00')
    await client.query(`INSERT INTO ${schema}.digs VALUES (5, NULL, '0044-03-15 12:30:00.7+00 BC')`)
    const [t2] = await timed.runExport({ source: 'shop', timezone: 'UTC', tables: [byTime] }, { runId: 't2' })
    expect(t2?.status, JSON.stringify(t2?.error)).toBe('committed')
    // Row 2 again (inside the 60 s lag) and the new row 5; not the row of 300 BC.
    expect(t2?.rows).toBe(2)
    expect(t2?.watermarkAfter).toBe('0044-03-15 (BC) 12:30:00.7+00')
  })

  it('exports a table with a column of an unmapped type left out by columns:, and names the column and the way out when it is not', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE DOMAIN ${schema}.price AS numeric(10,2) CHECK (VALUE >= 0)`)
    await client.query(`CREATE TABLE ${schema}.shops (id int PRIMARY KEY, at point, price ${schema}.price, name text)`)
    await client.query(`INSERT INTO ${schema}.shops VALUES (1, '(1.5,2)', 12.5, 'a'), (2, NULL, NULL, 'b')`)
    const lake = await tempDir()
    const exporter = testExporter({ sources: { shop: { kind: 'postgres', url, schema } }, lakeRoot: lake })
    const table = { name: 'shops', mode: 'full' as const, lagSeconds: 0, chunkRows: 100 }
    const [whole] = await exporter.runExport({ source: 'shop', timezone: 'UTC', tables: [table] }, { runId: 'u1' })
    expect(whole?.status).toBe('failed')
    expect(whole?.error).toMatchObject({ code: 'EXPORT_TYPE_UNSUPPORTED', message: expect.stringMatching(/column at: type point has no faithful export mapping; leave the column out with columns:/) })
    const [without] = await exporter.runExport({ source: 'shop', timezone: 'UTC', tables: [{ ...table, columns: ['id', 'price', 'name'] }] }, { runId: 'u2' })
    expect(without?.status, JSON.stringify(without?.error)).toBe('committed')
    const { rows, columns } = await readExported(lake, 'shop', 'shops', 'id')
    // A domain over numeric(10,2) keeps the base type's precision and scale.
    expect(Object.fromEntries(columns.map((c) => [c.name, c.type]))).toMatchObject({ id: 'INTEGER', price: 'DECIMAL(10,2)', name: 'VARCHAR' })
    expect(rows.map(({ id, price, name }) => ({ id, price, name }))).toEqual([{ id: 1, price: '12.50', name: 'a' }, { id: 2, price: null, name: 'b' }])
  })

  it('fails a table whose value DuckDB cannot hold (NaN in numeric(p,s)) with the reason and the column, not the CSV reader\'s advice for auto-detected files', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.prices (id int PRIMARY KEY, price numeric(12,2))`)
    await client.query(`INSERT INTO ${schema}.prices VALUES (1, 9.99), (2, 'NaN')`)
    const lake = await tempDir()
    const exporter = testExporter({ sources: { shop: { kind: 'postgres', url, schema } }, lakeRoot: lake })
    const [record] = await exporter.runExport({ source: 'shop', timezone: 'UTC', tables: [{ name: 'prices', mode: 'full', lagSeconds: 0, chunkRows: 100 }] }, { runId: 'r1' })
    expect(record?.status).toBe('failed')
    expect(record?.error?.code).toBe('EXPORT_VALUE_INVALID')
    // Not retried by the job: the same rows would fail the same way.
    expect(() => failOnFailedTables('shop', [record!])).toThrow(expect.objectContaining({ code: 'EXPORT_VALUE_INVALID', canRetry: false }))
    const message = record?.error?.message ?? ''
    expect(message).toMatch(/^source shop, table prices: Conversion Error: CSV Error on Line: 2/)
    expect(message).toContain('Error when converting column "price". Could not convert string "NaN" to \'DECIMAL')
    expect(message).not.toMatch(/auto-detected|Possible solutions|types=\{|file = /)
  })

  it('fails a table whose array column holds a multi-dimensional value, naming the column (it would have become a list of JSON texts)', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.grids (id int PRIMARY KEY, tags text[])`)
    await client.query(`INSERT INTO ${schema}.grids VALUES (1, '{"[a",b}'), (2, '{{a,b},{c,d}}')`)
    const lake = await tempDir()
    const exporter = testExporter({ sources: { shop: { kind: 'postgres', url, schema } }, lakeRoot: lake })
    const run = (): ReturnType<typeof exporter.runExport> => exporter.runExport({ source: 'shop', timezone: 'UTC', tables: [{ name: 'grids', mode: 'full', lagSeconds: 0, chunkRows: 100 }] }, { runId: randomUUID() })
    const [failed] = await run()
    expect(failed?.status).toBe('failed')
    expect(failed?.error?.code).toBe('EXPORT_VALUE_INVALID')
    expect(failed?.error?.message).toContain('table grids, column tags: a multi-dimensional array value; only one-dimensional arrays export')
    await client.query(`DELETE FROM ${schema}.grids WHERE id = 2`)
    const [record] = await run()
    expect(record?.status, JSON.stringify(record?.error)).toBe('committed')
    const { rows } = await readExported(lake, 'shop', 'grids', 'id')
    expect((rows[0] as { tags: unknown }).tags).toEqual(['[a', 'b'])
  })

  it('exports values of megabytes: lines past read_csv\'s default max_line_size (2,000,000 bytes), among ordinary rows', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.docs (id int PRIMARY KEY, body text, note text)`)
    await client.query(`INSERT INTO ${schema}.docs SELECT g, 'row ' || g, 'n' FROM generate_series(1, 50) g`)
    // 3 MB of quotes and newlines (6 MB of CSV once quotes are doubled) and 24 MB of plain text.
    await client.query(`INSERT INTO ${schema}.docs VALUES (51, repeat(E'"a,\\n', 750000), 'quoted'), (52, repeat('0123456789abcdef', 1500000), 'plain')`)
    const lake = await tempDir()
    const exporter = testExporter({ sources: { shop: { kind: 'postgres', url, schema } }, lakeRoot: lake })
    const [record] = await exporter.runExport({ source: 'shop', timezone: 'UTC', tables: [{ name: 'docs', mode: 'full', lagSeconds: 0, chunkRows: 20 }] }, { runId: 'big' })
    expect(record?.status, JSON.stringify(record?.error)).toBe('committed')
    expect(record?.rows).toBe(52)
    const expected = (await client.query(`SELECT id, md5(body) AS h, length(body) AS n, note FROM ${schema}.docs ORDER BY id`)).rows
    const db = await openDatabase(':memory:')
    try {
      const got = await db.queryJson(`SELECT id, md5(body) AS h, length(body)::INTEGER AS n, note FROM read_parquet('${lake}/raw/exports/shop/docs/*/*.parquet', hive_partitioning=false) ORDER BY id`)
      expect(got.rows).toEqual(expected)
    } finally {
      db.close()
    }
  }, 120_000)

  it('names the table and column of a type it cannot map', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.geo (id int, p point)`)
    const lake = await tempDir()
    const exporter = testExporter({ sources: { shop: { kind: 'postgres', url, schema } }, lakeRoot: lake })
    const [record] = await exporter.runExport({ source: 'shop', timezone: 'UTC', tables: [{ name: 'geo', mode: 'full', lagSeconds: 0, chunkRows: 10 }] })
    expect(record?.status).toBe('failed')
    expect(record?.error).toMatchObject({ code: 'EXPORT_TYPE_UNSUPPORTED', context: { table: 'geo', column: 'p' } })
  })
})
