import { describe, expect, it } from 'vitest'
import { CommitLog } from '../../lake/index.ts'
import { mysqlDatabase } from '../helpers/databases.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { readExported, testExporter } from './export-fixtures.ts'

describe('mariadb export', () => {
  it('exports FLOAT values exactly as stored, not as the text protocol prints them (6 significant digits)', async () => {
    const { connection, database, url } = await mysqlDatabase()
    await connection.query(`CREATE TABLE ${database}.floats (id int PRIMARY KEY, f float)`)
    const stored = [16777215, 1234567.125, Math.fround(0.1), Math.fround(3.4028234e38), Math.fround(1.17549435e-38), Math.fround(1.4e-45), -2.5, 0]
    await connection.query(`INSERT INTO ${database}.floats VALUES ${stored.map((_, i) => `(${i + 1}, ?)`).join(', ')}`, stored)
    const lake = await tempDir()
    const exporter = testExporter({ sources: { catalog: { kind: 'mysql', url } }, lakeRoot: lake })
    const [record] = await exporter.runExport({ source: 'catalog', timezone: 'UTC', tables: [{ name: 'floats', mode: 'full', lagSeconds: 0, chunkRows: 100 }] }, { runId: 'f1' })
    expect(record?.status, JSON.stringify(record?.error)).toBe('committed')
    const { rows } = await readExported(lake, 'catalog', 'floats', 'id')
    // Read back as the shortest decimal of the same 32-bit value (1234567.125 shows as 1234567.1, as DuckDB prints it).
    expect(rows.map((r) => Math.fround(r.f as number))).toEqual(stored)
  })

  it('exports a table with a column of an unmapped type (POINT) left out by columns:, and names the way out when it is not', async () => {
    const { connection, database, url } = await mysqlDatabase()
    await connection.query(`CREATE TABLE ${database}.shops (id int PRIMARY KEY, at point, name varchar(10))`)
    await connection.query(`INSERT INTO ${database}.shops VALUES (1, POINT(1.5, 2), 'a'), (2, NULL, 'b')`)
    const lake = await tempDir()
    const exporter = testExporter({ sources: { catalog: { kind: 'mysql', url } }, lakeRoot: lake })
    const table = { name: 'shops', mode: 'full' as const, lagSeconds: 0, chunkRows: 100 }
    const [whole] = await exporter.runExport({ source: 'catalog', timezone: 'UTC', tables: [table] }, { runId: 'p1' })
    expect(whole?.error).toMatchObject({ code: 'EXPORT_TYPE_UNSUPPORTED', message: expect.stringMatching(/column at: type point has no faithful export mapping; leave the column out with columns:/) })
    const [without] = await exporter.runExport({ source: 'catalog', timezone: 'UTC', tables: [{ ...table, columns: ['id', 'name'] }] }, { runId: 'p2' })
    expect(without?.status, JSON.stringify(without?.error)).toBe('committed')
    const { rows } = await readExported(lake, 'catalog', 'shops', 'id')
    expect(rows.map(({ id, name }) => ({ id, name }))).toEqual([{ id: 1, name: 'a' }, { id: 2, name: 'b' }])
  })

  it('round-trips every mapped type exactly, with NULLs and empty strings', async () => {
    const { connection, database, url } = await mysqlDatabase()
    await connection.query(`CREATE TABLE ${database}.typed (
      id int PRIMARY KEY, ti tinyint, ui int unsigned, bi bigint, ubi bigint unsigned, d38 decimal(38,9), d12 decimal(12,2), dbig decimal(50,5),
      f double, t text, vc varchar(10), d date, dt datetime(6), ts timestamp(6) NULL, tm time(6), j json, bl blob, vb varbinary(8), e enum('sad','happy'), y year,
      fl float, lat varchar(10) CHARACTER SET latin1)`)
    await connection.query(`SET time_zone = '+05:30'`)
    await connection.query(`INSERT INTO ${database}.typed VALUES
      (1, -128, 4294967295, -9223372036854775808, 18446744073709551615, 12345678901234567890.123456789, -0.01, 123456789012345678901234567890123456789012345.12345,
       0.1, 'a "quoted", line\\nbreak', '', '2024-02-29', '2024-01-02 03:04:05.123456', '2024-06-01 12:00:00.654321', '23:59:59.999999', '{"a": [1, 2.50]}', x'00ff0010', x'00', 'happy', 2024, 0.5, 'café "ü"'),
      (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
      (3, 0, 0, 0, 0, 0, 0, 0, -1.5e300, '', 'x', '1000-01-01', '1999-12-31 23:59:59', '1970-01-02 00:00:00', '00:00:00', '[]', x'', x'', 'sad', 1901, -3.25, '')`)
    const lake = await tempDir()
    const exporter = testExporter({ sources: { catalog: { kind: 'mysql', url } }, lakeRoot: lake })
    const [record] = await exporter.runExport({ source: 'catalog', timezone: 'UTC', tables: [{ name: 'typed', mode: 'full', lagSeconds: 0, chunkRows: 2 }] }, { runId: 'm1' })
    expect(record?.status, JSON.stringify(record?.error)).toBe('committed')
    expect(record?.rows).toBe(3)
    const { rows, columns } = await readExported(lake, 'catalog', 'typed', 'id')
    expect(Object.fromEntries(columns.map((c) => [c.name, c.type]))).toEqual({
      id: 'INTEGER', ti: 'TINYINT', ui: 'UINTEGER', bi: 'BIGINT', ubi: 'UBIGINT', d38: 'DECIMAL(38,9)', d12: 'DECIMAL(12,2)', dbig: 'VARCHAR',
      f: 'DOUBLE', t: 'VARCHAR', vc: 'VARCHAR', d: 'DATE', dt: 'TIMESTAMP', ts: 'TIMESTAMPTZ', tm: 'TIME', j: 'JSON', bl: 'BLOB', vb: 'BLOB', e: 'VARCHAR', y: 'SMALLINT',
      fl: 'REAL', lat: 'VARCHAR',
    })
    expect(rows[0]).toMatchObject({
      id: 1, ti: -128, ui: 4294967295, bi: '-9223372036854775808', ubi: '18446744073709551615', d38: '12345678901234567890.123456789', d12: '-0.01',
      dbig: '123456789012345678901234567890123456789012345.12345', f: 0.1, t: 'a "quoted", line\nbreak', vc: '', d: '2024-02-29',
      dt: '2024-01-02 03:04:05.123456', ts: '2024-06-01 06:30:00.654321+00', tm: '23:59:59.999999', e: 'happy', y: 2024, fl: 0.5, lat: 'café "ü"',
    })
    expect(JSON.parse(String(rows[0]!.j))).toEqual({ a: [1, 2.5] })
    expect(rows[1]).toEqual(Object.fromEntries(Object.keys(rows[1]!).map((k) => [k, k === 'id' ? 2 : null])))
    expect(rows[2]).toMatchObject({ fl: -3.25, lat: '', t: '', vc: 'x', f: -1.5e300, d: '1000-01-01', ts: '1970-01-01 18:30:00+00', j: '[]' })
    const { openDatabase } = await import('../../core/duckdb/index.ts')
    const db = await openDatabase(':memory:')
    const blobs = await db.queryJson(`SELECT id, hex(bl) bl, hex(vb) vb, octet_length(bl) n FROM read_parquet('${lake}/raw/exports/catalog/typed/*/*.parquet', hive_partitioning=false) ORDER BY id`)
    db.close()
    expect(blobs.rows).toEqual([{ id: 1, bl: '00FF0010', vb: '00', n: '4' }, { id: 2, bl: null, vb: null, n: null }, { id: 3, bl: '', vb: '', n: '0' }])
  })

  it('keeps text of every shape byte for byte: quotes, commas, newlines, empty vs NULL, multi-byte, latin1, binary, values longer than a socket read', async () => {
    const { connection, database, url } = await mysqlDatabase()
    await connection.query(`CREATE TABLE ${database}.texts (id int PRIMARY KEY, t longtext, lat text CHARACTER SET latin1, b longblob, s set('a','b "q"'), e enum('x,y','z'))`)
    // No '\r': DuckDB's read_csv as table-export.ts calls it (no new_line='\n') refuses a quoted CR, before and after this reader.
    const shapes = ['', '"', '""', ',', '\n', 'a,"b"\nc', ' lead and trail ', 'NULL', '\\N', 'café 🙂 日本語', '\t', `${'é'.repeat(300)}"`]
    const values: unknown[][] = shapes.map((t, i) => [i + 1, t, i % 2 ? 'ü "latin" ñ' : '', Buffer.from([0, 34, 44, 10, 255]), i % 2 ? 'a,b "q"' : '', i % 2 ? 'x,y' : 'z'])
    values.push([100, null, null, null, null, null])
    // One row of ~5 MB of CSV (past read_csv's default max_line_size of 2,000,000 bytes), many socket reads long.
    values.push([101, `"${'x,"y"\n'.repeat(500_000)}`, 'ß'.repeat(60_000), Buffer.alloc(300_000, 0x22), 'b "q"', 'x,y'])
    await connection.query(`INSERT INTO ${database}.texts VALUES ?`, [values])
    const lake = await tempDir()
    const exporter = testExporter({ sources: { catalog: { kind: 'mysql', url } }, lakeRoot: lake })
    const [record] = await exporter.runExport({ source: 'catalog', timezone: 'UTC', tables: [{ name: 'texts', mode: 'full', lagSeconds: 0, chunkRows: 5 }] }, { runId: 'x1' })
    expect(record?.status, JSON.stringify(record?.error)).toBe('committed')
    expect(record?.rows).toBe(values.length)
    const { openDatabase } = await import('../../core/duckdb/index.ts')
    const db = await openDatabase(':memory:')
    const got = await db.queryJson(`SELECT id, t, lat, hex(b) b, s, e FROM read_parquet('${lake}/raw/exports/catalog/texts/*/*.parquet', hive_partitioning=false) ORDER BY id`)
    db.close()
    expect(got.rows).toEqual(
      values.map(([id, t, lat, b, s, e]) => ({ id, t, lat, b: b === null ? null : (b as Buffer).toString('hex').toUpperCase(), s, e })),
    )
  }, 120_000)

  it('reads UTF-8 whatever charset the source URL asks for (latin1, utf8mb3): no other bytes, no \'?\' for what they cannot hold', async () => {
    const { connection, database, url } = await mysqlDatabase()
    await connection.query(`CREATE TABLE ${database}.names (id int PRIMARY KEY, n varchar(100) CHARACTER SET utf8mb4, l varchar(100) CHARACTER SET latin1)`)
    await connection.query(`INSERT INTO ${database}.names VALUES (1, 'café 🙂 日本語', 'façade'), (2, 'Zoë', 'ß')`)
    for (const charset of ['LATIN1_SWEDISH_CI', 'UTF8_GENERAL_CI']) {
      const lake = await tempDir()
      const exporter = testExporter({ sources: { catalog: { kind: 'mysql', url: `${url}?charset=${charset}` } }, lakeRoot: lake })
      const [record] = await exporter.runExport({ source: 'catalog', timezone: 'UTC', tables: [{ name: 'names', mode: 'full', lagSeconds: 0, chunkRows: 100 }] }, { runId: `c-${charset}` })
      expect(record?.status, JSON.stringify(record?.error)).toBe('committed')
      const { rows } = await readExported(lake, 'catalog', 'names', 'id')
      expect(rows, charset).toEqual([{ id: 1, n: 'café 🙂 日本語', l: 'façade' }, { id: 2, n: 'Zoë', l: 'ß' }])
    }
  }, 120_000)

  it('exports a uuid column holding NULL (it once made the whole CSV line NULL and the read wait forever)', async () => {
    const { connection, database, url } = await mysqlDatabase()
    await connection.query(`CREATE TABLE ${database}.tokens (id int PRIMARY KEY, u uuid NULL, n int NULL)`)
    await connection.query(`INSERT INTO ${database}.tokens VALUES (1, '6f1c2c1e-0d3a-4a51-9d49-1b7d3a2f8e10', 7), (2, NULL, NULL), (3, NULL, 3)`)
    const lake = await tempDir()
    const exporter = testExporter({ sources: { catalog: { kind: 'mysql', url } }, lakeRoot: lake })
    const [record] = await exporter.runExport({ source: 'catalog', timezone: 'UTC', tables: [{ name: 'tokens', mode: 'full', lagSeconds: 0, chunkRows: 100 }] }, { runId: 'u1' })
    expect(record?.status, JSON.stringify(record?.error)).toBe('committed')
    const { rows } = await readExported(lake, 'catalog', 'tokens', 'id')
    expect(rows).toEqual([{ id: 1, u: '6f1c2c1e-0d3a-4a51-9d49-1b7d3a2f8e10', n: 7 }, { id: 2, u: null, n: null }, { id: 3, u: null, n: 3 }])
  }, 120_000)

  it('incremental by updated_at with lag, full replace, and duplicate rerun', async () => {
    const { connection, database, url } = await mysqlDatabase()
    await connection.query(`CREATE TABLE ${database}.items (id bigint PRIMARY KEY, name varchar(20), updated_at datetime(6) NOT NULL)`)
    await connection.query(`INSERT INTO ${database}.items SELECT seq, concat('n', seq), '2026-01-01 00:00:00' + INTERVAL seq SECOND FROM seq_1_to_300`)
    const lake = await tempDir()
    const exporter = testExporter({ sources: { catalog: { kind: 'mysql', url } }, lakeRoot: lake })
    const config = { source: 'catalog', timezone: 'UTC', tables: [{ name: 'items', mode: 'incremental' as const, cursor: 'updated_at', key: ['id'], lagSeconds: 60, chunkRows: 100 }] }
    expect((await exporter.runExport(config, { runId: 'i1' }))[0]).toMatchObject({ status: 'committed', rows: 300, watermarkAfter: '2026-01-01 00:05:00' })
    await connection.query(`UPDATE ${database}.items SET name = 'changed', updated_at = '2026-01-01 01:00:00' WHERE id = 5`)
    await connection.query(`INSERT INTO ${database}.items VALUES (301, 'late', '2026-01-01 00:04:30')`)
    expect((await exporter.runExport(config, { runId: 'i2' }))[0]).toMatchObject({ status: 'committed', watermarkAfter: '2026-01-01 01:00:00' })
    const latest = new Map((await readExported(lake, 'catalog', 'items', 'id, updated_at')).rows.map((r) => [String(r.id), r.name]))
    expect(latest.size).toBe(301)
    expect(latest.get('5')).toBe('changed')
    expect(latest.get('301')).toBe('late')
    expect((await exporter.runExport(config, { runId: 'i2' }))[0]?.status).toBe('duplicate')
    expect((await exporter.runExport(config, { runId: 'i3', full: true }))[0]).toMatchObject({ mode: 'full', rows: 301 })
    expect([...(await CommitLog.open(lake)).activeFiles().values()].every((f) => f.runId === 'i3')).toBe(true)
  })
})
