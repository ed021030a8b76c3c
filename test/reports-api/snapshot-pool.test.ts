import { describe, expect, it, onTestFinished } from 'vitest'
import { PassThrough } from 'node:stream'
import { createLogger, silentLogger } from '../../core/logger.ts'
import { SnapshotPool } from '../../reports-api/snapshot-pool.ts'
import { fixtureWarehouse, publishFixtureSnapshot } from '../helpers/snapshot-fixtures.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { testApi } from './api-harness.ts'

/** A lease on a published fixture snapshot, from a pool closed after the test. */
async function leaseFixtureSnapshot() {
  const { store } = await fixtureWarehouse()
  await publishFixtureSnapshot(store)
  const pool = new SnapshotPool(store, { logger: silentLogger })
  onTestFinished(() => pool.close())
  return pool.lease()
}

describe('SnapshotPool', () => {
  it('keeps a snapshot open for in-flight work after the current pointer moves, then closes it', async () => {
    const { store } = await fixtureWarehouse()
    await publishFixtureSnapshot(store, { marker: 'one' })
    const closed: number[] = []
    const logs = new PassThrough()
    logs.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        const entry = JSON.parse(line) as { msg: string; snapshot: number }
        if (entry.msg === 'closed snapshot') closed.push(entry.snapshot)
      }
    })
    const pool = new SnapshotPool(store, { logger: createLogger({ destination: logs }), checkIntervalMs: 0 })
    onTestFinished(() => pool.close())
    const lease = await pool.lease()
    expect(lease.manifest.id).toBe(1)
    await publishFixtureSnapshot(store, { marker: 'two' })
    expect((await pool.current())?.id).toBe(2)
    // The old lease still reads snapshot 1 after the switch.
    const marker = await lease.query('reports', 5000, 'REPORT_TIMEOUT', (db) => db.all<{ marker: string }>('select marker from coldpipe.snapshot'))
    expect(marker).toEqual([{ marker: 'one' }])
    const next = await pool.lease()
    expect(next.manifest.id).toBe(2)
    expect(await next.query('reports', 5000, 'REPORT_TIMEOUT', (db) => db.all('select marker from coldpipe.snapshot'))).toEqual([{ marker: 'two' }])
    next.release()
    expect(closed).toEqual([])
    lease.release()
    await waitFor(() => closed.includes(1))
    const again = await pool.lease()
    expect(again.manifest.id).toBe(2)
    again.release()
  })

  it('re-reads only the current pointer: a manifest is read once per snapshot, however often the pointer is checked', async () => {
    const { store } = await fixtureWarehouse()
    await publishFixtureSnapshot(store, { marker: 'one' })
    const reads: number[] = []
    // The real store, counting the manifests it reads.
    const source = Object.assign(Object.create(store) as typeof store, { get: (id: number) => (reads.push(id), store.get(id)) })
    const pool = new SnapshotPool(source, { logger: silentLogger, checkIntervalMs: 0 })
    onTestFinished(() => pool.close())
    const first = await pool.current()
    // Opening the snapshot reads its manifest too: what matters is that checking adds no reads.
    const afterFirst = reads.length
    for (let i = 0; i < 200; i++) expect(await pool.current()).toBe(first)
    expect(reads.length).toBe(afterFirst)
    expect(afterFirst).toBeLessThanOrEqual(2)
    await publishFixtureSnapshot(store, { marker: 'two' })
    const second = await pool.current()
    expect(second?.id).toBe(2)
    const afterSecond = reads.length
    for (let i = 0; i < 200; i++) expect(await pool.current()).toBe(second)
    expect(reads.length).toBe(afterSecond)
    expect(reads.filter((id) => id === 2).length).toBeLessThanOrEqual(2)
  })

  it('runs queries concurrently on separate connections of one snapshot', async () => {
    const lease = await leaseFixtureSnapshot()
    const results = await Promise.all(
      Array.from({ length: 4 }, (_, i) => lease.query('reports', 5000, 'REPORT_TIMEOUT', (db) => db.all<{ n: number }>(`select ${i}::INTEGER as n`))),
    )
    expect(results.map((r) => r[0]!.n)).toEqual([0, 1, 2, 3])
    lease.release()
  })

  it('caps a query by the slot deadline it is given when that comes before its own timeout', async () => {
    const lease = await leaseFixtureSnapshot()
    onTestFinished(() => lease.release())
    // A slot whose budget is already spent (queue wait) does not start the query at all.
    let ran = false
    const spent = lease.query('reports', 60_000, 'REPORT_TIMEOUT', async () => (ran = true), Date.now() - 1)
    await expect(spent).rejects.toMatchObject({ code: 'REPORT_TIMEOUT' })
    expect(ran).toBe(false)
    // A slow query stops at the slot deadline, long before its own 60 s timeout.
    const started = Date.now()
    const slow = lease.query('reports', 60_000, 'REPORT_TIMEOUT', (db) => db.all('select count(*) from range(100000000000)'), Date.now() + 300)
    await expect(slow).rejects.toMatchObject({ code: 'REPORT_TIMEOUT' })
    expect(Date.now() - started).toBeLessThan(30_000)
  })
})

describe('jobs plugin hook', () => {
  it('mounts extra routes behind API keys that need jobs: true', async () => {
    const keys = [
      { key: 'ops-key-00000001', name: 'ops', reports: ['*'], sql: false, jobs: true },
      { key: 'reader-key-00001', name: 'reader', reports: ['*'], sql: false, jobs: false },
    ]
    const { app } = await testApi({
      config: { apiKeys: keys },
      deps: {
        jobs: {
          prefix: '/jobs',
          register: (scope, context) => {
            scope.get('/', async (request) => ({ jobs: [], caller: context.requireJobs(request).name }))
          },
        },
      },
    })
    expect((await app.inject('/jobs')).json().error.code).toBe('AUTH_REQUIRED')
    expect((await app.inject({ url: '/jobs', headers: { 'x-api-key': keys[1]!.key } })).json().error.code).toBe('AUTH_FORBIDDEN')
    expect((await app.inject({ url: '/jobs', headers: { 'x-api-key': keys[0]!.key } })).json()).toEqual({ jobs: [], caller: 'ops' })
  })
})
