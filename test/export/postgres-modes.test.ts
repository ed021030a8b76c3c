import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CommitLog } from '../../lake/index.ts'
import { postgresSchema } from '../helpers/databases.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { readExported, testExporter } from './export-fixtures.ts'

const orders = { name: 'orders', mode: 'incremental' as const, cursor: 'updated_at', key: ['id'], lagSeconds: 60, chunkRows: 1000 }

describe('postgres export modes', () => {
  it('incremental picks up inserts, updates and a late commit inside the lag window; a rerun of the run adds nothing', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`SET search_path = ${schema}`)
    await client.query(`CREATE TABLE orders (id bigint PRIMARY KEY, status text, updated_at timestamptz NOT NULL)`)
    await client.query(`INSERT INTO orders SELECT g, 'new', '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 second' FROM generate_series(1, 2500) g`)
    const lake = await tempDir()
    const exporter = testExporter({ sources: { ordering: { kind: 'postgres', url, schema } }, lakeRoot: lake })
    const exportConfig = { source: 'ordering', timezone: 'UTC', tables: [orders] }

    const [first] = await exporter.runExport(exportConfig, { runId: 'r1' })
    expect(first).toMatchObject({ status: 'committed', rows: 2500, watermarkBefore: null, watermarkAfter: '2026-01-01 00:41:40+00' })
    expect(first?.files).toHaveLength(3)
    let log = await CommitLog.open(lake)
    expect(log.watermarks().get('export:ordering.orders')).toMatchObject({ kind: 'export-cursor', position: '2026-01-01 00:41:40+00', asOf: first?.asOf })
    expect((await log.readCommit(log.latestVersion))?.add[0]).toMatchObject({ key: ['id'], cursor: 'updated_at', mode: 'incremental', columns: [{ name: 'id', type: 'BIGINT' }, { name: 'status', type: 'VARCHAR' }, { name: 'updated_at', type: 'TIMESTAMPTZ' }] })

    // An update, an insert, and a row committed late whose cursor is 30 s behind the watermark (inside the 60 s lag).
    await client.query(`UPDATE orders SET status = 'paid', updated_at = '2026-01-01 01:00:00+00' WHERE id = 7`)
    await client.query(`INSERT INTO orders VALUES (2501, 'new', '2026-01-01 01:00:01+00'), (2502, 'late', '2026-01-01 00:41:10+00')`)
    const [second] = await exporter.runExport(exportConfig, { runId: 'r2' })
    // The lag window also re-reads rows 2471..2500 (cursor within 60 s of the old watermark): merged by key downstream.
    expect(second).toMatchObject({ status: 'committed', watermarkBefore: '2026-01-01 00:41:40+00', watermarkAfter: '2026-01-01 01:00:01+00' })
    const { rows } = await readExported(lake, 'ordering', 'orders', 'id, updated_at')
    const latest = new Map(rows.map((r) => [String(r.id), r.status]))
    expect(latest.size).toBe(2502)
    expect(latest.get('7')).toBe('paid')
    expect(latest.get('2502')).toBe('late')

    // Re-running r2 is a duplicate: same records, nothing new in the log.
    log = await CommitLog.open(lake)
    const versions = log.latestVersion
    const [again] = await exporter.runExport(exportConfig, { runId: 'r2' })
    expect(again?.status).toBe('duplicate')
    expect(again?.rows).toBe(second?.rows)
    expect((await CommitLog.open(lake)).latestVersion).toBe(versions)

    // Run records are saved as JSON.
    const saved = JSON.parse(await readFile(join(lake, '_state', 'export-runs', 'r2', 'ordering.orders.json'), 'utf8'))
    expect(saved).toMatchObject({ runId: 'r2', source: 'ordering', table: 'orders', status: 'duplicate', mode: 'incremental', rows: second?.rows })
    // Nothing left in scratch.
    expect((await readdir(join(lake, '_tmp'))).filter((n) => n.endsWith('.csv'))).toEqual([])
  })

  it('moves the watermark to the exact largest cursor: microseconds of timestamps, decimals past 2^53', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.ticks (id bigint PRIMARY KEY, at timestamptz NOT NULL)`)
    await client.query(`CREATE TABLE ${schema}.ledger (id bigint PRIMARY KEY, seq numeric(30,0) NOT NULL)`)
    await client.query(`INSERT INTO ${schema}.ticks VALUES (1, '2026-01-01 00:00:00.000100+00')`)
    await client.query(`INSERT INTO ${schema}.ledger VALUES (1, 90071992547409930)`)
    const lake = await tempDir()
    const exporter = testExporter({ sources: { s: { kind: 'postgres', url, schema } }, lakeRoot: lake })
    const config = {
      source: 's',
      timezone: 'UTC',
      tables: [
        { name: 'ticks', mode: 'incremental' as const, cursor: 'at', key: ['id'], lagSeconds: 0, chunkRows: 1000 },
        { name: 'ledger', mode: 'incremental' as const, cursor: 'seq', key: ['id'], lagSeconds: 0, chunkRows: 1000 },
      ],
    }
    const first = await exporter.runExport(config, { runId: 'm1' })
    expect(first.map((r) => r.watermarkAfter)).toEqual(['2026-01-01 00:00:00.0001+00', '90071992547409930'])
    // Newer by 800 µs (the same millisecond) and by 1 (the same double).
    await client.query(`INSERT INTO ${schema}.ticks VALUES (2, '2026-01-01 00:00:00.000900+00')`)
    await client.query(`INSERT INTO ${schema}.ledger VALUES (2, 90071992547409931)`)
    const second = await exporter.runExport(config, { runId: 'm2' })
    expect(second.map((r) => [r.rows, r.watermarkAfter])).toEqual([[1, '2026-01-01 00:00:00.0009+00'], [1, '90071992547409931']])
    // Nothing new: nothing read again.
    const third = await exporter.runExport(config, { runId: 'm3' })
    expect(third.map((r) => r.rows)).toEqual([0, 0])
  })

  it('an infinite or NaN cursor value never becomes the watermark: newer rows are still read (such rows are read at every run)', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.plans (id bigint PRIMARY KEY, until timestamptz, on_day date, score float8)`)
    await client.query(`INSERT INTO ${schema}.plans VALUES (1, '2026-01-01 00:00:00+00', '2026-01-01', 1.5), (2, 'infinity', 'infinity', 'Infinity'),
      (3, '-infinity', '-infinity', '-Infinity'), (4, '2026-01-02 00:00:00+00', '2026-01-02', 'NaN')`)
    const lake = await tempDir()
    const exporter = testExporter({ sources: { s: { kind: 'postgres', url, schema } }, lakeRoot: lake })
    const table = { name: 'plans', mode: 'incremental' as const, key: ['id'], lagSeconds: 0, chunkRows: 2 }
    const config = { source: 's', timezone: 'UTC', tables: [{ ...table, cursor: 'until' }, { ...table, cursor: 'on_day' }, { ...table, cursor: 'score' }] }
    const names = (tables: typeof config.tables) => tables.map((t, i) => ({ ...t, name: `plans${i}` }))
    for (const i of [0, 1, 2]) await client.query(`CREATE VIEW ${schema}.plans${i} AS SELECT * FROM ${schema}.plans`)
    const runConfig = { ...config, tables: names(config.tables) }
    const first = await exporter.runExport(runConfig, { runId: 'i1' })
    expect(first.map((r) => [r.status, r.rows, r.watermarkAfter])).toEqual([['committed', 4, '2026-01-02 00:00:00+00'], ['committed', 4, '2026-01-02'], ['committed', 4, '1.5']])
    await client.query(`INSERT INTO ${schema}.plans VALUES (5, '2026-01-03 00:00:00+00', '2026-01-03', 2.5)`)
    const second = await exporter.runExport(runConfig, { runId: 'i2' })
    // The new row, and the row past every watermark (infinity; for the float cursor NaN too, which sorts above it).
    expect(second.map((r) => [r.status, r.rows, r.watermarkAfter])).toEqual([['committed', 2, '2026-01-03 00:00:00+00'], ['committed', 2, '2026-01-03'], ['committed', 3, '2.5']])
  })

  it('an id cursor ignores lag; a cursor range re-export leaves the watermark alone', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.events (id bigint PRIMARY KEY, v text)`)
    await client.query(`INSERT INTO ${schema}.events SELECT g, 'v' || g FROM generate_series(1, 100) g`)
    const lake = await tempDir()
    const exporter = testExporter({ sources: { s: { kind: 'postgres', url, schema } }, lakeRoot: lake })
    const config = { source: 's', timezone: 'UTC', tables: [{ name: 'events', mode: 'incremental' as const, cursor: 'id', key: ['id'], lagSeconds: 3600, chunkRows: 1000 }] }
    expect((await exporter.runExport(config, { runId: 'a' }))[0]).toMatchObject({ rows: 100, watermarkAfter: '100' })
    await client.query(`INSERT INTO ${schema}.events VALUES (101, 'x')`)
    expect((await exporter.runExport(config, { runId: 'b' }))[0]).toMatchObject({ rows: 1, watermarkBefore: '100', watermarkAfter: '101' })
    expect((await exporter.runExport(config, { runId: 'c', cursorRange: { from: '10', to: '19' } }))[0]).toMatchObject({ rows: 10, watermarkAfter: '101' })
    expect((await CommitLog.open(lake)).watermarks().get('export:s.events')?.position).toBe('101')
  })

  it('full mode replaces the earlier copy', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.items (id int, name text)`)
    await client.query(`INSERT INTO ${schema}.items SELECT g, 'n' || g FROM generate_series(1, 50) g`)
    const lake = await tempDir()
    const exporter = testExporter({ sources: { catalog: { kind: 'postgres', url, schema } }, lakeRoot: lake })
    const config = { source: 'catalog', timezone: 'UTC', include: ['it*'] }
    expect((await exporter.runExport(config, { runId: 'f1' }))[0]).toMatchObject({ table: 'items', rows: 50, mode: 'full' })
    await client.query(`DELETE FROM ${schema}.items WHERE id > 10`)
    expect((await exporter.runExport(config, { runId: 'f2' }))[0]).toMatchObject({ rows: 10 })
    const active = [...(await CommitLog.open(lake)).activeFiles().values()]
    expect(active.map((f) => f.path)).toEqual(['raw/exports/catalog/items/run=f2/part-00000.parquet'])
    expect((await readExported(lake, 'catalog', 'items', 'id')).rows).toHaveLength(10)
  })

  it('absorbs added, dropped and widened columns, and reports an incompatible change', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`SET search_path = ${schema}`)
    await client.query(`CREATE TABLE t (id int PRIMARY KEY, qty int, name varchar(10), price numeric(10,2), gone text, code text)`)
    await client.query(`INSERT INTO t VALUES (1, 1, 'a', 1.25, 'x', 'c1')`)
    const lake = await tempDir()
    const exporter = testExporter({ sources: { s: { kind: 'postgres', url, schema } }, lakeRoot: lake })
    const config = { source: 's', timezone: 'UTC', tables: [{ name: 't', mode: 'incremental' as const, cursor: 'id', key: ['id'], lagSeconds: 0, chunkRows: 100 }] }
    expect((await exporter.runExport(config, { runId: 's1' }))[0]?.status).toBe('committed')
    await client.query(`ALTER TABLE t ALTER qty TYPE bigint, ALTER name TYPE varchar(50), ALTER price TYPE numeric(12,2), DROP COLUMN gone, ADD COLUMN added date`)
    await client.query(`INSERT INTO t VALUES (2, 9000000000, 'a longer name', 1234567890.12, 'c2', '2026-01-02')`)
    expect((await exporter.runExport(config, { runId: 's2' }))[0]?.status).toBe('committed')
    const { rows } = await readExported(lake, 's', 't', 'id')
    expect(rows).toEqual([
      { id: 1, qty: '1', name: 'a', price: '1.25', gone: 'x', code: 'c1', added: null },
      { id: 2, qty: '9000000000', name: 'a longer name', price: '1234567890.12', gone: null, code: 'c2', added: '2026-01-02' },
    ])
    await client.query(`ALTER TABLE t ALTER code TYPE integer USING 1`)
    await client.query(`INSERT INTO t VALUES (3, 1, 'b', 1, 5, NULL)`)
    const [bad] = await exporter.runExport(config, { runId: 's3' })
    expect(bad).toMatchObject({ status: 'failed', error: { code: 'EXPORT_SCHEMA_INCOMPATIBLE', context: { table: 't', column: 'code', before: 'VARCHAR', after: 'INTEGER' } } })
    expect((await CommitLog.open(lake)).findByKey('export:s3:s.t')).toBeUndefined()
  })
})
