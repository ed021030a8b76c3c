import { describe, expect, it } from 'vitest'
import { sourceDefaults } from '../../ingest/export/index.ts'
import { copyStatement } from '../../ingest/export/pg-copy-statement.ts'
import { PostgresConnector } from '../../ingest/export/postgres-connector.ts'
import type { SourceColumn } from '../../ingest/export/source-connector.ts'
import { postgresSchema } from '../helpers/databases.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { readExported, testExporter } from './export-fixtures.ts'

const column = (name: string, selectExpr = `"${name.replace(/"/g, '""')}"`): SourceColumn => ({ name, sourceType: 'text', duckType: 'VARCHAR', selectExpr, csvType: 'VARCHAR', convertExpr: '$col' })

describe('postgres COPY forms', () => {
  it('copies a whole plain table by name, and everything else through its SELECT', () => {
    const columns = [column('id'), column('Odd "name"')]
    expect(copyStatement('"s"."t"', columns, undefined, true)).toBe('COPY "s"."t" ("id", "Odd ""name""") TO STDOUT (FORMAT csv)')
    expect(copyStatement('"s"."t"', columns, 'id > 5', true)).toBe('COPY (SELECT "id", "Odd ""name""" FROM "s"."t" WHERE id > 5) TO STDOUT (FORMAT csv)')
    expect(copyStatement('"s"."t"', columns, undefined, false)).toBe('COPY (SELECT "id", "Odd ""name""" FROM "s"."t") TO STDOUT (FORMAT csv)')
    // A column read through an expression (an enum's ::text, a PII hash) needs the SELECT.
    expect(copyStatement('"s"."t"', [column('id'), column('m', '"m"::text')], undefined, true)).toBe('COPY (SELECT "id", "m"::text FROM "s"."t") TO STDOUT (FORMAT csv)')
  })

  it('exports the same rows from a plain table (by name), a view and a partitioned table (through SELECT)', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`SET search_path = ${schema}`)
    await client.query(`CREATE TABLE plain (id int PRIMARY KEY, "Odd ""name""" text, dropped int, total numeric(12,2), at timestamptz, note text)`)
    await client.query(`ALTER TABLE plain DROP COLUMN dropped`)
    await client.query(`INSERT INTO plain SELECT g, CASE WHEN g % 3 = 0 THEN NULL WHEN g % 3 = 1 THEN '' ELSE 'a "q", b' || chr(10) || g END,
      g / 100.0, '2025-01-01 00:00:00+05'::timestamptz + g * interval '1 minute', 'n' || g FROM generate_series(1, 250) g`)
    await client.query(`CREATE VIEW viewed AS SELECT * FROM plain`)
    await client.query(`CREATE TABLE parted (id int, "Odd ""name""" text, total numeric(12,2), at timestamptz, note text) PARTITION BY RANGE (id)`)
    await client.query(`CREATE TABLE parted_low PARTITION OF parted FOR VALUES FROM (MINVALUE) TO (100)`)
    await client.query(`CREATE TABLE parted_high PARTITION OF parted FOR VALUES FROM (100) TO (MAXVALUE)`)
    await client.query(`INSERT INTO parted SELECT * FROM plain`)
    // Only the plain table may be copied by name: what describeTable says of each decides the statement.
    const connector = await PostgresConnector.connect('shop', { ...sourceDefaults, kind: 'postgres', url, schema })
    try {
      const described = await Promise.all(['plain', 'viewed', 'parted'].map((name) => connector.describeTable(name)))
      expect(described.map((t) => t.plainTable)).toEqual([true, false, false])
    } finally {
      await connector.close()
    }
    const lake = await tempDir()
    const exporter = testExporter({ sources: { shop: { kind: 'postgres', url, schema } }, lakeRoot: lake })
    const tables = ['plain', 'viewed', 'parted'].map((name) => ({ name, mode: 'full' as const, key: ['id'], lagSeconds: 0, chunkRows: 100 }))
    const records = await exporter.runExport({ source: 'shop', timezone: 'UTC', tables }, { runId: 'r1' })
    for (const record of records) expect(record.status, `${record.table}: ${JSON.stringify(record.error)}`).toBe('committed')
    expect(records.map((r) => r.rows)).toEqual([250, 250, 250])

    const plain = await readExported(lake, 'shop', 'plain', 'id')
    expect(plain.columns.map((c) => c.name)).toEqual(['id', 'Odd "name"', 'total', 'at', 'note'])
    expect(plain.rows.slice(0, 3)).toEqual([
      { id: 1, 'Odd "name"': '', total: '0.01', at: '2024-12-31 19:01:00+00', note: 'n1' },
      { id: 2, 'Odd "name"': 'a "q", b\n2', total: '0.02', at: '2024-12-31 19:02:00+00', note: 'n2' },
      { id: 3, 'Odd "name"': null, total: '0.03', at: '2024-12-31 19:03:00+00', note: 'n3' },
    ])
    expect((await readExported(lake, 'shop', 'viewed', 'id')).rows).toEqual(plain.rows)
    expect((await readExported(lake, 'shop', 'parted', 'id')).rows).toEqual(plain.rows)
  })
})
