import { describe, expect, it } from 'vitest'
import { CommitLog } from '../../lake/index.ts'
import { mysqlDatabase } from '../helpers/databases.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { readExported, testExporter } from './export-fixtures.ts'

// A legacy MariaDB/MySQL without NO_ZERO_DATE / NO_ZERO_IN_DATE (MariaDB 10.11's default sql_mode lacks both).
describe('mariadb export: zero dates and TIME outside a day', () => {
  it('exports zero dates and dates with a zero month or day as NULL, every other value exactly (year 0000, 1 BC, kept)', async () => {
    const { connection, database, url } = await mysqlDatabase()
    await connection.query(`SET SESSION sql_mode = ''`)
    await connection.query(`CREATE TABLE ${database}.legacy (id int PRIMARY KEY, d date, dt datetime(6), ts timestamp(6) NULL, t time, note varchar(10))`)
    await connection.query(`SET time_zone = '+00:00'`)
    await connection.query(`INSERT INTO ${database}.legacy VALUES
      (1, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', '12:00:00', 'a'),
      (2, '2024-00-15', '2024-02-00 01:02:03', '2024-01-01 00:00:00', '00:00:00', 'b'),
      (3, '2024-01-15', '2024-02-01 01:02:03.5', '2024-01-01 00:00:00.000001', '23:59:59', 'c'),
      (4, '2024-02-00', '0000-01-15 10:00:00', '1970-01-01 00:00:01', NULL, 'd'),
      (5, '0000-03-04', '2024-00-00 00:00:00.000001', NULL, '24:00:00', 'e'),
      (6, '2000-10-20', '2000-10-10 10:10:10', '2038-01-19 03:14:07.999999', '10:00:00', NULL),
      (7, NULL, '1000-01-01 00:00:00', '0000-00-00 00:00:00', '20:00:00', '')`)
    // The zero values really are in the table (the insert was not refused nor rounded by the server).
    const [stored] = await connection.query(`SELECT CAST(d AS CHAR) d, CAST(dt AS CHAR) dt, CAST(ts AS CHAR) ts FROM ${database}.legacy WHERE id = 1`)
    expect(stored).toEqual([{ d: '0000-00-00', dt: '0000-00-00 00:00:00.000000', ts: '0000-00-00 00:00:00.000000' }])
    const lake = await tempDir()
    const exporter = testExporter({ sources: { legacy: { kind: 'mysql', url } }, lakeRoot: lake })
    // chunkRows 3: zero values at the start, middle and end of chunks.
    const [record] = await exporter.runExport({ source: 'legacy', timezone: 'UTC', tables: [{ name: 'legacy', mode: 'full', lagSeconds: 0, chunkRows: 3 }] }, { runId: 'z1' })
    expect(record?.status, JSON.stringify(record?.error)).toBe('committed')
    expect(record?.rows).toBe(7)
    const { rows, columns } = await readExported(lake, 'legacy', 'legacy', 'id')
    expect(Object.fromEntries(columns.map((c) => [c.name, c.type]))).toMatchObject({ d: 'DATE', dt: 'TIMESTAMP', ts: 'TIMESTAMPTZ', t: 'TIME' })
    expect(rows).toEqual([
      { id: 1, d: null, dt: null, ts: null, t: '12:00:00', note: 'a' },
      { id: 2, d: null, dt: null, ts: '2024-01-01 00:00:00+00', t: '00:00:00', note: 'b' },
      { id: 3, d: '2024-01-15', dt: '2024-02-01 01:02:03.5', ts: '2024-01-01 00:00:00.000001+00', t: '23:59:59', note: 'c' },
      { id: 4, d: null, dt: '0000-01-15 10:00:00', ts: '1970-01-01 00:00:01+00', t: null, note: 'd' },
      { id: 5, d: '0000-03-04', dt: null, ts: null, t: '24:00:00', note: 'e' },
      { id: 6, d: '2000-10-20', dt: '2000-10-10 10:10:10', ts: '2038-01-19 03:14:07.999999+00', t: '10:00:00', note: null },
      { id: 7, d: null, dt: '1000-01-01 00:00:00', ts: null, t: '20:00:00', note: '' },
    ])
  }, 120_000)

  it('fails a table with a TIME outside a day at once, naming the table and column and what to do', async () => {
    const { connection, database, url } = await mysqlDatabase()
    await connection.query(`CREATE TABLE ${database}.shifts (id int PRIMARY KEY, started time, worked time)`)
    await connection.query(`INSERT INTO ${database}.shifts SELECT seq, '08:00:00', IF(seq = 4000, '100:00:00', '07:30:00') FROM seq_1_to_5000`)
    await connection.query(`CREATE TABLE ${database}.ok (id int PRIMARY KEY)`)
    await connection.query(`INSERT INTO ${database}.ok VALUES (1)`)
    const lake = await tempDir()
    const exporter = testExporter({ sources: { legacy: { kind: 'mysql', url } }, lakeRoot: lake })
    const tables = [
      { name: 'shifts', mode: 'full' as const, lagSeconds: 0, chunkRows: 1000 },
      { name: 'ok', mode: 'full' as const, lagSeconds: 0, chunkRows: 1000 },
    ]
    const [failed, ok] = await exporter.runExport({ source: 'legacy', timezone: 'UTC', tables }, { runId: 't1' })
    expect(failed, JSON.stringify(failed)).toMatchObject({
      table: 'shifts',
      status: 'failed',
      error: { code: 'EXPORT_VALUE_INVALID', context: { source: 'legacy', table: 'shifts', column: 'worked', value: '100:00:00', reason: 'time-outside-day' } },
    })
    const message = String(failed?.error?.message)
    expect(message).toContain('table shifts')
    expect(message).toContain('column worked')
    expect(message).toMatch(/outside a day/)
    expect(message).toMatch(/columns:/)
    expect(message).toMatch(/view/)
    // Retrying cannot help: the error says so, and the next table (on the same source) still runs.
    expect(ok).toMatchObject({ table: 'ok', status: 'committed', rows: 1 })
    expect([...(await CommitLog.open(lake)).activeFiles().values()].map((f) => f.table)).toEqual(['ok'])
  }, 120_000)
})
