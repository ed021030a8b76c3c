import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { readResults } from '../../warehouse/reconcile/index.ts'
import { reconcileJobResult } from '../../warehouse/reconcile/reconcile-job.ts'
import { silentLogger } from '../../core/logger.ts'
import { postgresSchema } from '../helpers/databases.ts'
import { faultProxy } from '../helpers/fault-proxy.ts'
import { smallDisk } from '../helpers/small-disk.ts'
import { pipeline, sourceConfig } from './reconcile-fixtures.ts'

async function setUp() {
  const { client, schema, url } = await postgresSchema()
  await client.query(`CREATE TABLE ${schema}.items (id int PRIMARY KEY, name text)`)
  await client.query(`INSERT INTO ${schema}.items SELECT g, 'item ' || g FROM generate_series(1, 50000) g`)
  const proxy = await faultProxy({ host: '127.0.0.1', port: 5432 })
  const viaProxy = url.replace('127.0.0.1:5432', `127.0.0.1:${proxy.port}`)
  // Loaded through the proxy while it is healthy; the faults hit the reconciliation's reads only.
  const p = await pipeline({ shop: { ...sourceConfig('postgres', viaProxy, schema), retryMaxAttempts: 2, readTimeoutMs: 3_000 } },
    [{ source: 'shop', timezone: 'UTC', tables: [{ name: 'items', mode: 'full', key: ['id'], lagSeconds: 0, chunkRows: 100_000 }] }])
  await p.load()
  return { client, schema, proxy, p }
}

describe('reconcile when the source fails mid-check', () => {
  it('a connection cut in the middle of the segment checksums is retried on a fresh connection and snapshot', async () => {
    const { proxy, p } = await setUp()
    const before = proxy.connections
    // The first pass answers ~500 segment rows; cut after some of them arrived.
    proxy.cutAfter(3_000, 'down')
    const r = (await p.reconcile({ segmentRows: 100 })).results[0]!
    await proxy.fired()
    expect(r).toMatchObject({ status: 'match', counts: { sourceRows: 50_000, warehouseRows: 50_000 } })
    expect(proxy.connections - before).toBeGreaterThanOrEqual(2)
  }, 120_000)

  it('a source that keeps failing or stalls is recorded as an error with its code, saved, and fails the job run', async () => {
    const { proxy, p } = await setUp()
    proxy.cutEvery(3_000, 'down')
    const cut = (await p.reconcile({ segmentRows: 100 })).results[0]!
    expect(cut).toMatchObject({ status: 'error', error: { code: 'SOURCE_CONNECT_FAILED' } })
    expect(cut.error!.message).toContain('shop')
    expect((await readResults(p.warehouse.path))[0]).toMatchObject({ table: 'items', status: 'error' })

    proxy.heal()
    proxy.stallAfter(3_000, 'down')
    const call = { runId: 'r-stall', signal: new AbortController().signal, logger: silentLogger }
    const config = { lake: p.lakeRoot, warehouse: p.warehouse, sources: { shop: { ...p.sources.shop!, retryMaxAttempts: 0 } }, exports: p.exports, jobs: { reconcile: { lagSeconds: 0, segmentRows: 100 } } }
    await expect(reconcileJobResult(config, call)).rejects.toMatchObject({ code: 'RECONCILE_FAILED', message: expect.stringContaining('SOURCE_READ_TIMEOUT') })
    expect((await readResults(p.warehouse.path))[0]).toMatchObject({ status: 'error', error: { code: 'SOURCE_READ_TIMEOUT' } })
    proxy.heal()
  }, 120_000)
})

describe('reconcile when the warehouse volume is full', () => {
  it('stops with WAREHOUSE_DISK_FULL naming where, keeps the earlier result, and saves once there is room', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.items (id int PRIMARY KEY, name text)`)
    await client.query(`INSERT INTO ${schema}.items SELECT g, 'item ' || g FROM generate_series(1, 1000) g`)
    const disk = await smallDisk(64)
    const p = await pipeline({ shop: sourceConfig('postgres', url, schema) },
      [{ source: 'shop', timezone: 'UTC', tables: [{ name: 'items', mode: 'full', key: ['id'], lagSeconds: 0, chunkRows: 10_000 }] }], { warehouseDir: join(disk.dir, 'wh') })
    await p.load()
    const first = (await p.reconcile()).results[0]!
    expect(first.status).toBe('match')

    await client.query(`DELETE FROM ${schema}.items WHERE id = 5`)
    await disk.fill()
    await expect(p.reconcile()).rejects.toMatchObject({ code: 'WAREHOUSE_DISK_FULL', message: expect.stringContaining(join(disk.dir, 'wh', '_state', 'reconcile')) })
    // The earlier result stays whole; no temp file is left behind.
    expect((await readResults(p.warehouse.path)).map((r) => [r.status, r.runId])).toEqual([['match', first.runId]])
    expect((await readdir(join(disk.dir, 'wh', '_tmp'))).filter((n) => !n.endsWith('.duckdb'))).toEqual([])

    await disk.free()
    const again = (await p.reconcile()).results[0]!
    expect(again).toMatchObject({ status: 'mismatch', extra: [{ key: { id: '5' } }] })
    expect((await readResults(p.warehouse.path))[0]).toMatchObject({ status: 'mismatch', runId: again.runId })
  }, 120_000)
})
