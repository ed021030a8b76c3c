import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { postgresSchema } from '../helpers/databases.ts'
import { faultProxy } from '../helpers/fault-proxy.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { testExporter } from './export-fixtures.ts'
import { capturingLogger, committed, fullTable, quickRetries, scratchFiles } from './fault-fixtures.ts'

async function bigAndSmall(rows: number): Promise<Awaited<ReturnType<typeof postgresSchema>>> {
  const db = await postgresSchema()
  await db.client.query(`CREATE TABLE ${db.schema}.big (id bigint PRIMARY KEY, payload text)`)
  await db.client.query(`INSERT INTO ${db.schema}.big SELECT g, repeat('x', 100) FROM generate_series(1, ${rows}) g`)
  await db.client.query(`CREATE TABLE ${db.schema}.small (id int)`)
  await db.client.query(`INSERT INTO ${db.schema}.small VALUES (1), (2), (3)`)
  return db
}

async function parquetFiles(lake: string, service: string, table: string): Promise<string[]> {
  const entries = await readdir(join(lake, 'raw', 'exports', service, table), { recursive: true }).catch(() => [] as string[])
  return entries.map(String).filter((n) => n.endsWith('.parquet'))
}

const tables = { source: 's', timezone: 'UTC', tables: [fullTable('big'), fullTable('small')] }

describe('postgres export faults mid-stream', () => {
  it('a connection cut mid-COPY is retried on a fresh connection and the table commits once', async () => {
    const { schema } = await bigAndSmall(100_000)
    const proxy = await faultProxy({ host: '127.0.0.1', port: 5432 })
    const lake = await tempDir()
    const { logger, records } = capturingLogger('warn')
    const exporter = testExporter({ sources: { s: { kind: 'postgres', url: `postgres://postgres@${proxy.address}/test`, schema, ...quickRetries } }, lakeRoot: lake, logger })
    // About 11 MB of CSV flows for `big`: the cut lands in the middle of its COPY.
    proxy.cutAfter(3_000_000)
    const result = await exporter.runExport(tables, { runId: 'cut' })
    expect(result.map((r) => [r.table, r.status]), JSON.stringify(result)).toEqual([['big', 'committed'], ['small', 'committed']])
    expect(result[0]?.rows).toBe(100_000)
    expect(proxy.connections).toBeGreaterThanOrEqual(2)
    expect(records.some((r) => r.msg === 'export table attempt failed on the source' && r.table === 'big' && r.code === 'SOURCE_CONNECT_FAILED')).toBe(true)
    expect(await committed(lake, 's', 'big')).toMatchObject({ rows: 100_000, files: 5 })
    expect(await scratchFiles(lake)).toEqual([])
  })

  it('with the retries exhausted the table fails cleanly, nothing of it is committed, and the next table still exports', async () => {
    const { schema } = await bigAndSmall(100_000)
    const proxy = await faultProxy({ host: '127.0.0.1', port: 5432 })
    const lake = await tempDir()
    const exporter = testExporter({ sources: { s: { kind: 'postgres', url: `postgres://postgres@${proxy.address}/test`, schema, ...quickRetries, retryMaxAttempts: 2 } }, lakeRoot: lake })
    // Every connection that carries 2 MB is cut: each attempt at `big` dies mid-COPY; `small` never gets that far.
    proxy.cutEvery(2_000_000)
    const result = await exporter.runExport(tables, { runId: 'exhausted' }).finally(() => proxy.heal())
    expect(result[0]).toMatchObject({ table: 'big', status: 'failed', error: { code: 'SOURCE_CONNECT_FAILED', context: { source: 's', table: 'big' } } })
    expect(result[1]).toMatchObject({ table: 'small', status: 'committed', rows: 3 })
    expect(proxy.connections).toBeGreaterThanOrEqual(4)
    expect(await committed(lake, 's', 'big')).toMatchObject({ rows: 0, files: 0 })
    expect(await parquetFiles(lake, 's', 'big')).toEqual([])
    expect(await scratchFiles(lake)).toEqual([])
  })

  it('a stall past readTimeoutMs fails the attempt with SOURCE_READ_TIMEOUT; the retry succeeds once the network heals', async () => {
    const { schema } = await bigAndSmall(100_000)
    const proxy = await faultProxy({ host: '127.0.0.1', port: 5432 })
    const lake = await tempDir()
    const { logger, records } = capturingLogger('warn')
    const exporter = testExporter({
      sources: { s: { kind: 'postgres', url: `postgres://postgres@${proxy.address}/test`, schema, ...quickRetries, retryMaxAttempts: 6, retryInitialDelayMs: 200, readTimeoutMs: 1_500, connectTimeoutMs: 2_000 } },
      lakeRoot: lake,
      logger,
    })
    proxy.stallAfter(3_000_000)
    const run = exporter.runExport(tables, { runId: 'stall' })
    await waitFor(() => records.some((r) => r.code === 'SOURCE_READ_TIMEOUT' && r.table === 'big'), { timeoutMs: 60_000, message: 'the stall was never noticed' })
    proxy.heal()
    const result = await run
    expect(result.map((r) => [r.table, r.status]), JSON.stringify(result)).toEqual([['big', 'committed'], ['small', 'committed']])
    expect(await committed(lake, 's', 'big')).toMatchObject({ rows: 100_000 })
    expect(await scratchFiles(lake)).toEqual([])
  })

  it('a stall that never heals ends the run with SOURCE_READ_TIMEOUT naming the table, and nothing committed', async () => {
    const { schema } = await bigAndSmall(100_000)
    const proxy = await faultProxy({ host: '127.0.0.1', port: 5432 })
    const lake = await tempDir()
    const exporter = testExporter({ sources: { s: { kind: 'postgres', url: `postgres://postgres@${proxy.address}/test`, schema, ...quickRetries, retryMaxAttempts: 0, readTimeoutMs: 1_000 } }, lakeRoot: lake })
    proxy.stallAfter(3_000_000)
    const [record] = await exporter.runExport({ source: 's', timezone: 'UTC', tables: [fullTable('big')] }, { runId: 'stuck' })
    expect(record).toMatchObject({ table: 'big', status: 'failed', error: { code: 'SOURCE_READ_TIMEOUT', context: { source: 's', table: 'big', readTimeoutMs: 1_000 } } })
    expect(await committed(lake, 's', 'big')).toMatchObject({ rows: 0 })
    expect(await scratchFiles(lake)).toEqual([])
  })

  it('pg_terminate_backend on the COPY backend mid-table: retried on a new backend, committed once with its own asOf', async () => {
    const { client, schema, url } = await bigAndSmall(200_000)
    const lake = await tempDir()
    const { logger, records } = capturingLogger('warn')
    const exporter = testExporter({ sources: { s: { kind: 'postgres', url, schema, ...quickRetries } }, lakeRoot: lake, logger })
    const run = exporter.runExport(tables, { runId: 'terminated' })
    let ended = false
    void run.finally(() => (ended = true))
    const pid = await waitFor(
      async () => {
        if (ended) throw new Error('the export ended before its COPY was seen')
        const { rows } = await client.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'COPY %' AND query LIKE $1`,
          [`%${schema}"."big"%`],
        )
        return rows[0]?.pid
      },
      { timeoutMs: 60_000, intervalMs: 10, message: 'no COPY backend to terminate' },
    )
    await client.query('SELECT pg_terminate_backend($1)', [pid])
    const result = await run
    expect(result.map((r) => [r.table, r.status]), JSON.stringify(result)).toEqual([['big', 'committed'], ['small', 'committed']])
    expect(result[0]?.rows).toBe(200_000)
    expect(result[0]?.asOf).toBeTypeOf('string')
    expect(records.some((r) => r.msg === 'export table attempt failed on the source' && r.table === 'big')).toBe(true)
    expect(await committed(lake, 's', 'big')).toMatchObject({ rows: 200_000 })
    expect(await scratchFiles(lake)).toEqual([])
  })

  it('an aborted run stops promptly: tables not committed fail with EXPORT_ABORTED, the COPY ends, temps are removed', async () => {
    const { client, schema, url } = await bigAndSmall(200_000)
    const lake = await tempDir()
    const exporter = testExporter({ sources: { s: { kind: 'postgres', url, schema, ...quickRetries } }, lakeRoot: lake })
    const controller = new AbortController()
    const run = exporter.runExport(tables, { runId: 'aborted', signal: controller.signal })
    const copying = async (): Promise<number> =>
      (await client.query(`SELECT 1 FROM pg_stat_activity WHERE query LIKE 'COPY %' AND query LIKE $1`, [`%${schema}"."big"%`])).rowCount ?? 0
    await waitFor(copying, { timeoutMs: 60_000, intervalMs: 10, message: 'the COPY never started' })
    controller.abort(new Error('job deadline'))
    const result = await run
    expect(result.map((r) => [r.table, r.status, r.error?.code])).toEqual([['big', 'failed', 'EXPORT_ABORTED'], ['small', 'failed', 'EXPORT_ABORTED']])
    expect(await committed(lake, 's', 'big')).toMatchObject({ rows: 0 })
    expect(await scratchFiles(lake)).toEqual([])
    await waitFor(async () => (await copying()) === 0, { timeoutMs: 30_000, message: 'the COPY backend is still there' })
  })

  it('two overlapping full exports of the same table: the lake holds exactly one run, the loser removes its files', async () => {
    const { schema, url } = await bigAndSmall(100_000)
    const proxy = await faultProxy({ host: '127.0.0.1', port: 5432 })
    const lake = await tempDir()
    // Two exporters, as two machines sharing a lake would have; the second reads slowly, so the runs overlap.
    const one = testExporter({ sources: { s: { kind: 'postgres', url, schema } }, lakeRoot: lake })
    const two = testExporter({ sources: { s: { kind: 'postgres', url: `postgres://postgres@${proxy.address}/test`, schema } }, lakeRoot: lake })
    const config = { source: 's', timezone: 'UTC', tables: [fullTable('big')] }
    proxy.slow(1_000_000)
    const second = two.runExport(config, { runId: 'two' })
    // `two` has read the table's watermark and is streaming (about 11 s at this rate) when `one` begins.
    await waitFor(() => proxy.bytes.down > 500_000, { timeoutMs: 60_000, message: 'the slow run never streamed' })
    const [a] = await one.runExport(config, { runId: 'one' })
    const [b] = await second
    const records = [a!, b!]
    expect(records.map((r) => r.status).sort(), JSON.stringify(records)).toEqual(['committed', 'failed'])
    const loser = records.find((r) => r.status === 'failed')!
    const winner = records.find((r) => r.status === 'committed')!
    expect(loser.error).toMatchObject({ code: 'LAKE_WATERMARK_MOVED', context: { source: 's', table: 'big' } })
    const active = await committed(lake, 's', 'big')
    expect(active).toMatchObject({ rows: 100_000, runIds: new Set([winner.runId]) })
    expect((await parquetFiles(lake, 's', 'big')).filter((p) => p.includes(`run=${loser.runId}`))).toEqual([])
    expect(await scratchFiles(lake)).toEqual([])
  })
})
