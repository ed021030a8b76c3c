import { describe, expect, it } from 'vitest'
import { CommitLog } from '../../lake/index.ts'
import { postgresSchema } from '../helpers/databases.ts'
import { faultProxy } from '../helpers/fault-proxy.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { readExported, testExporter } from './export-fixtures.ts'
import { capturingLogger, committed, fullTable, quickRetries, scratchFiles } from './fault-fixtures.ts'

/** Rows with every kind of text COPY must carry (quotes, commas, newlines, '' next to NULL), holes and moved tuples. */
async function mixedTable(client: import('pg').Client, schema: string, rows: number): Promise<void> {
  await client.query(`CREATE TABLE ${schema}.mixed (id bigint PRIMARY KEY, label text, amount numeric(12,2), at timestamptz, flags int[])`)
  await client.query(`INSERT INTO ${schema}.mixed SELECT g,
      CASE g % 5 WHEN 0 THEN NULL WHEN 1 THEN '' WHEN 2 THEN 'a "quoted", line' || E'\\n' || 'two' ELSE 'plain ' || g END,
      (g % 10000) / 100.0, '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 minute', ARRAY[g % 3, g % 7]
    FROM generate_series(1, ${rows}) g`)
  // Holes (deleted rows) and new row versions on other pages.
  await client.query(`DELETE FROM ${schema}.mixed WHERE id % 11 = 0`)
  await client.query(`UPDATE ${schema}.mixed SET label = 'updated ' || id WHERE id % 13 = 0`)
  await client.query(`ANALYZE ${schema}.mixed`)
}

/** Backends of this test still running a COPY of `table`. */
async function copyBackends(client: import('pg').Client, schema: string, table: string): Promise<number[]> {
  const { rows } = await client.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'COPY %' AND query LIKE $1 AND pid <> pg_backend_pid()`,
    [`%${schema}"."${table}"%`],
  )
  return rows.map((r) => r.pid)
}

describe('postgres export with parallelism (ranges of one snapshot over several connections)', () => {
  it('gives exactly the rows of a single stream: same values, each row once', async () => {
    const { client, schema, url } = await postgresSchema()
    await mixedTable(client, schema, 30_000)
    const single = await tempDir()
    const parallel = await tempDir()
    const one = testExporter({ sources: { s: { kind: 'postgres', url, schema } }, lakeRoot: single })
    const many = testExporter({ sources: { s: { kind: 'postgres', url, schema, maxConnections: 4 } }, lakeRoot: parallel })
    const [a] = await one.runExport({ source: 's', timezone: 'UTC', tables: [fullTable('mixed', 50_000)] }, { runId: 'one' })
    const [b] = await many.runExport({ source: 's', timezone: 'UTC', tables: [{ ...fullTable('mixed', 3_000), parallelism: 4 }] }, { runId: 'many' })
    const expected = Number((await client.query(`SELECT count(*) AS n FROM ${schema}.mixed`)).rows[0].n)
    expect(a).toMatchObject({ status: 'committed', rows: expected })
    expect(b).toMatchObject({ status: 'committed', rows: expected })
    // Split into ranges: several files, one per range that held rows.
    expect(b!.files.length).toBeGreaterThan(4)
    const left = await readExported(single, 's', 'mixed', 'id')
    const right = await readExported(parallel, 's', 'mixed', 'id')
    expect(new Set(right.rows.map((r) => String(r.id))).size).toBe(expected)
    expect(right.columns).toEqual(left.columns)
    expect(right.rows).toEqual(left.rows)
    expect(await scratchFiles(parallel)).toEqual([])
  })

  it('every reader sees the run snapshot: rows changed after the run began are exported as they were', async () => {
    const { client, schema } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.first (id bigint PRIMARY KEY, payload text)`)
    await client.query(`INSERT INTO ${schema}.first SELECT g, repeat('f', 100) FROM generate_series(1, 50000) g`)
    await client.query(`CREATE TABLE ${schema}.big (id bigint PRIMARY KEY, payload text)`)
    await client.query(`INSERT INTO ${schema}.big SELECT g, 'v1 ' || repeat('x', 100) FROM generate_series(1, 60000) g`)
    await client.query(`ANALYZE ${schema}.big`)
    const proxy = await faultProxy({ host: '127.0.0.1', port: 5432 })
    const lake = await tempDir()
    const exporter = testExporter({
      sources: { s: { kind: 'postgres', url: `postgres://postgres@${proxy.address}/test`, schema, maxConnections: 3, readTimeoutMs: 120_000 } },
      lakeRoot: lake,
    })
    // Tables of a run share its consistent read: the stall holds the run inside `first`, after its snapshot
    // began and before `big`'s extra readers connect. They must still see `big` as it was at the start.
    proxy.stallAfter(1_000_000)
    const run = exporter.runExport({ source: 's', timezone: 'UTC', tables: [fullTable('first'), { ...fullTable('big', 4_000), parallelism: 3 }] }, { runId: 'snap' })
    await proxy.fired()
    await client.query(`UPDATE ${schema}.big SET payload = 'v2' WHERE id % 2 = 0`)
    await client.query(`DELETE FROM ${schema}.big WHERE id <= 1000`)
    await client.query(`INSERT INTO ${schema}.big SELECT g, 'new' FROM generate_series(60001, 61000) g`)
    proxy.heal()
    const [first, record] = await run
    expect(first).toMatchObject({ status: 'committed', rows: 50_000 })
    expect(record).toMatchObject({ status: 'committed', rows: 60_000, asOf: first!.asOf })
    // The run's connection, then two more for `big`'s ranges.
    expect(proxy.connections).toBe(3)
    const { rows } = await readExported(lake, 's', 'big', 'id')
    expect(rows).toHaveLength(60_000)
    expect(String(rows[0]!.id)).toBe('1')
    expect(String(rows.at(-1)!.id)).toBe('60000')
    expect(rows.filter((r) => !String(r.payload).startsWith('v1 '))).toEqual([])
    expect(new Set(rows.map((r) => String(r.id))).size).toBe(60_000)
  })

  it('a reader backend terminated mid-range: the table is retried and committed once, siblings closed, no scratch left', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.big (id bigint PRIMARY KEY, payload text)`)
    await client.query(`INSERT INTO ${schema}.big SELECT g, repeat('y', 200) FROM generate_series(1, 200000) g`)
    await client.query(`ANALYZE ${schema}.big`)
    const lake = await tempDir()
    const { logger, records } = capturingLogger('warn')
    const exporter = testExporter({ sources: { s: { kind: 'postgres', url, schema, maxConnections: 2, ...quickRetries } }, lakeRoot: lake, logger })
    // Ranges of 50,000 rows: each COPY lasts long enough that the two readers' COPYs are seen at once (with
    // 10,000-row ranges a fast run once ended between two polls).
    const run = exporter.runExport({ source: 's', timezone: 'UTC', tables: [{ ...fullTable('big', 50_000), parallelism: 2 }] }, { runId: 'kill' })
    let ended = false
    void run.finally(() => (ended = true))
    const pids = await waitFor(
      async () => {
        if (ended) throw new Error('the export ended before two COPYs ran at once')
        const found = await copyBackends(client, schema, 'big')
        return found.length >= 2 ? found : undefined
      },
      { timeoutMs: 60_000, intervalMs: 5, message: 'never saw two COPY backends at once' },
    )
    await client.query('SELECT pg_terminate_backend($1)', [pids[1]])
    const [record] = await run
    expect(record).toMatchObject({ status: 'committed', rows: 200_000 })
    expect(records.some((r) => r.msg === 'export table attempt failed on the source' && r.table === 'big')).toBe(true)
    expect(await committed(lake, 's', 'big')).toMatchObject({ rows: 200_000 })
    const { rows } = await readExported(lake, 's', 'big', 'id')
    expect(new Set(rows.map((r) => String(r.id))).size).toBe(200_000)
    expect(await scratchFiles(lake)).toEqual([])
    // The failed attempt's sibling is not left reading.
    await waitFor(async () => (await copyBackends(client, schema, 'big')).length === 0, { timeoutMs: 30_000, message: 'a COPY backend outlived the export' })
    // Longer than the two waits above together, so on a loaded machine their own messages say which step stalled.
  }, 180_000)

  it('an abort stops every reader: the table fails with EXPORT_ABORTED, nothing committed, no COPY left running', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.big (id bigint PRIMARY KEY, payload text)`)
    await client.query(`INSERT INTO ${schema}.big SELECT g, repeat('z', 200) FROM generate_series(1, 200000) g`)
    await client.query(`ANALYZE ${schema}.big`)
    const lake = await tempDir()
    const exporter = testExporter({ sources: { s: { kind: 'postgres', url, schema, maxConnections: 3 } }, lakeRoot: lake })
    const controller = new AbortController()
    const run = exporter.runExport({ source: 's', timezone: 'UTC', tables: [{ ...fullTable('big', 10_000), parallelism: 3 }] }, { runId: 'abort', signal: controller.signal })
    let ended = false
    void run.finally(() => (ended = true))
    await waitFor(
      async () => {
        if (ended) throw new Error('the export ended before its COPYs were seen')
        return (await copyBackends(client, schema, 'big')).length >= 2
      },
      { timeoutMs: 60_000, intervalMs: 5, message: 'never saw the parallel COPYs' },
    )
    controller.abort('test stop')
    const [record] = await run
    expect(record).toMatchObject({ status: 'failed', error: { code: 'EXPORT_ABORTED' } })
    expect(await committed(lake, 's', 'big')).toMatchObject({ rows: 0, files: 0 })
    expect(await scratchFiles(lake)).toEqual([])
    await waitFor(async () => (await copyBackends(client, schema, 'big')).length === 0, { timeoutMs: 30_000, message: 'a COPY backend outlived the abort' })
    expect((await CommitLog.open(lake)).watermarks().get('export:s.big')).toBeUndefined()
  })

  it('rows bigger than a socket read and text COPY must quote arrive whole (framing carried across reads)', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.wide (id int PRIMARY KEY, body text)`)
    await client.query(`INSERT INTO ${schema}.wide VALUES (1, NULL), (2, ''), (3, 'x'), (4, repeat('ab"c,' || E'\\n', 20000)), (5, repeat('z', 300000)), (6, 'tail')`)
    await client.query(`INSERT INTO ${schema}.wide SELECT g, repeat('q', g % 97) FROM generate_series(7, 5000) g`)
    const lake = await tempDir()
    const exporter = testExporter({ sources: { s: { kind: 'postgres', url, schema } }, lakeRoot: lake })
    const [record] = await exporter.runExport({ source: 's', timezone: 'UTC', tables: [fullTable('wide', 1_000)] }, { runId: 'wide' })
    expect(record).toMatchObject({ status: 'committed', rows: 5000 })
    // A cut every 1,000 rows: five files of exactly 1,000 rows.
    expect(await committed(lake, 's', 'wide')).toMatchObject({ rows: 5000, files: 5 })
    const { rows } = await readExported(lake, 's', 'wide', 'id')
    const source = (await client.query<{ id: number; body: string | null }>(`SELECT id, body FROM ${schema}.wide ORDER BY id`)).rows
    expect(rows.map((r) => [Number(r.id), r.body])).toEqual(source.map((r) => [r.id, r.body]))
  })
})
