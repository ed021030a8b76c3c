import { existsSync } from 'node:fs'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createMetricsRegistry } from '../../core/metrics.ts'
import { silentLogger } from '../../core/logger.ts'
import { buildApp } from '../../reports-api/index.ts'
import { apiConfig } from '../reports-api/api-harness.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { CommitLog } from '../../lake/index.ts'
import { publish } from '../../warehouse/index.ts'
import { snapshotFreshness } from '../../reports-api/freshness.ts'
import { commitChanges, commitExport } from '../helpers/lake-fixtures.ts'
import { corruptMiddle } from '../helpers/corrupt-file.ts'
import { query, setup } from './warehouse-setup.ts'

/** `count` change rows at offsets from `first` (ids from `firstId`), with incompressible text so the file has many data pages to damage. */
function orderChanges(first: number, count: number, status: string, firstId = first): string {
  return `SELECT (${firstId} + range)::INT AS id, '${status}' || md5(range::VARCHAR) AS status, 'c' AS _cp_op, false AS _cp_deleted,
    lpad((${first} + range)::VARCHAR, 20, '0') AS _cp_source_pos, (${first} + range)::BIGINT AS _cp_offset FROM range(${count})`
}

describe('quarantine, do not block', () => {
  it('quarantines a file corrupted mid-file, publishes the other tables, marks its table stale, and recovers on re-export', async () => {
    const { lakeRoot, warehouse, store } = await setup()
    await commitExport(lakeRoot, { service: 'catalog', table: 'items', mode: 'full', parts: ['SELECT range::INT AS id FROM range(3)'] })
    await commitExport(lakeRoot, { service: 'identity', table: 'users', mode: 'incremental', key: ['id'], cursor: 'v', parts: ['SELECT range::INT AS id, 1 AS v FROM range(2)'] })
    await commitChanges(lakeRoot, { service: 'ordering', table: 'orders', key: ['id'], firstOffset: 0, lastOffset: 99, selectSql: orderChanges(0, 100, 'a'), asOf: new Date('2026-01-01T00:00:00Z') })
    const first = await publish({ lakeRoot, warehouse })
    if (!first.published) throw new Error('expected publish')

    // New data for all three tables; the orders file is damaged in the middle after it was committed.
    await commitExport(lakeRoot, { service: 'catalog', table: 'items', mode: 'full', parts: ['SELECT range::INT AS id FROM range(5)'] })
    await commitExport(lakeRoot, { service: 'identity', table: 'users', mode: 'incremental', key: ['id'], cursor: 'v', parts: ['SELECT (range + 2)::INT AS id, 2 AS v FROM range(2)'] })
    const bad = await commitChanges(lakeRoot, { service: 'ordering', table: 'orders', key: ['id'], firstOffset: 100, lastOffset: 20_099, selectSql: orderChanges(100, 20_000, 'b'), asOf: new Date('2026-01-02T00:00:00Z') })
    const badPath = bad.add[0]!.path
    const log = await CommitLog.open(lakeRoot)
    await corruptMiddle(log.layout.absolute(badPath))

    const second = await publish({ lakeRoot, warehouse })
    if (!second.published) throw new Error('expected publish')
    // the two other tables are updated
    expect(await query(store, 'SELECT count(*)::INT AS n FROM catalog.items')).toEqual([{ n: 5 }])
    expect(await query(store, 'SELECT count(*)::INT AS n FROM identity.users')).toEqual([{ n: 4 }])
    // the corrupt table keeps its previous state
    expect(await query(store, 'SELECT count(*)::INT AS n, min(status) LIKE \'a%\' AS old FROM ordering.orders')).toEqual([{ n: 100, old: true }])
    // the file is out of the active set, its bytes under _quarantine/, by a commit naming it and why
    await log.refresh()
    expect(log.activeFiles().has(badPath)).toBe(false)
    expect(existsSync(log.layout.absolute(badPath))).toBe(false)
    expect(existsSync(log.layout.absolute(log.layout.quarantineFile(badPath)))).toBe(true)
    const stale = second.manifest.stale ?? []
    expect(stale).toEqual([expect.objectContaining({ table: 'ordering.orders', code: 'LAKE_FILE_CORRUPT', files: [badPath] })])
    const quarantine = await log.readCommit(stale[0]!.quarantineVersion)
    expect(quarantine).toMatchObject({ kind: 'quarantine', remove: [badPath] })
    expect(quarantine?.info?.quarantined).toEqual([expect.objectContaining({ path: badPath, table: 'ordering.orders', code: 'LAKE_FILE_CORRUPT', movedTo: log.layout.quarantineFile(badPath) })])
    expect(stale[0]!.reason).toContain(badPath)
    expect(second.manifest.info).toMatchObject({ quarantined: [expect.objectContaining({ path: badPath, table: 'ordering.orders' })] })
    // freshness says stale and why, and still shows the as-of of the state it kept
    const freshness = await query(store, `SELECT source, stale, stale_reason, as_of FROM coldpipe.freshness WHERE service = 'ordering'`)
    expect(freshness).toEqual([expect.objectContaining({ source: 'kafka:ordering.public.orders:0', stale: true, as_of: expect.stringContaining('2026-01-01') })])
    expect(String(freshness[0]!.stale_reason)).toContain(badPath)
    expect(await query(store, `SELECT count(*)::INT AS n FROM coldpipe.freshness WHERE stale`)).toEqual([{ n: 1 }])
    expect(snapshotFreshness(second.manifest).find((f) => f.source === 'ordering.orders')?.staleReason).toContain(badPath)
    // ...and so does the reports API's /metrics, for an alert rule
    const app = await buildApp({ snapshots: store, reportsDir: await tempDir(), config: apiConfig(), logger: silentLogger, metrics: createMetricsRegistry({ defaultMetrics: false }) })
    onTestFinished(() => app.close())
    expect((await app.inject('/metrics')).body).toMatch(/coldpipe_snapshot_stale_tables\{[^}]*table="ordering\.orders"[^}]*\} 1\n/)

    // the quarantine commit moved the lake on: the next publish keeps the table stale (no new data yet)
    const third = await publish({ lakeRoot, warehouse })
    if (!third.published) throw new Error('expected publish')
    expect(third.manifest.stale?.map((s) => s.table)).toEqual(['ordering.orders'])
    expect(await query(store, 'SELECT count(*)::INT AS n FROM ordering.orders')).toEqual([{ n: 100 }])

    // the source re-sends the range: the table is rebuilt from its active files and is fresh again
    await commitChanges(lakeRoot, { service: 'ordering', table: 'orders', key: ['id'], firstOffset: 20_100, lastOffset: 40_099, date: '2026-01-03', selectSql: orderChanges(20_100, 20_000, 'c', 100), asOf: new Date('2026-01-03T00:00:00Z') })
    const fourth = await publish({ lakeRoot, warehouse })
    if (!fourth.published) throw new Error('expected publish')
    expect(fourth.manifest.stale).toBeUndefined()
    expect(fourth.manifest.info).toMatchObject({ tablesRebuilt: ['ordering.orders'] })
    expect(await query(store, `SELECT count(*)::INT AS n, count(*) FILTER (WHERE status LIKE 'c%')::INT AS resent FROM ordering.orders`)).toEqual([{ n: 20_100, resent: 20_000 }])
    expect(await query(store, `SELECT stale FROM coldpipe.freshness WHERE service = 'ordering'`)).toEqual([{ stale: false }])
  }, 180_000)
})
