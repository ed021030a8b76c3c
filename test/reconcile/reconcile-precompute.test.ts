import { existsSync } from 'node:fs'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { describe, expect, it, onTestFinished } from 'vitest'
import { parseConfig } from '../../cli/config/index.ts'
import { reconcilePrecompute } from '../../cli/publish-stage.ts'
import { loadStageDeps } from '../../cli/stage-deps.ts'
import { createLogger, silentLogger } from '../../core/logger.ts'
import { publish } from '../../warehouse/index.ts'
import { SnapshotStore } from '../../warehouse/snapshot-store.ts'
import type { ReconcileConfig } from '../../warehouse/reconcile/index.ts'
import { PrecomputeRunner } from '../../warehouse/reconcile/precompute-runner.ts'
import { cacheDir, type KeptSegment } from '../../warehouse/reconcile/segment-cache.ts'
import { precomputeWarehouseSide } from '../../warehouse/reconcile/warehouse-precompute.ts'
import { mysqlDatabase, postgresSchema } from '../helpers/databases.ts'
import { pipeline, reconcileCountingSegments, sourceConfig, type Pipeline } from './reconcile-fixtures.ts'

// 500-key segments over 30,000 keys: about 60 of them.
const settings: Partial<ReconcileConfig> = { segmentRows: 500, leafRows: 64, fanOut: 16, lagSeconds: 0, maxReportedKeys: 50 }

/** Reconciles, returning the result and the warehouse segments carried forward (kept) and computed. */
const run = (p: Pipeline) => reconcileCountingSegments(p, settings)

/** A 20,000-row PostgreSQL table exported in full and published. */
async function fullExportedItems() {
  const { client, schema, url } = await postgresSchema()
  await client.query(`CREATE TABLE ${schema}.items (id int PRIMARY KEY, v text)`)
  await client.query(`INSERT INTO ${schema}.items SELECT g, 'v' || g FROM generate_series(1, 20000) g`)
  const p = await pipeline({ shop: sourceConfig('postgres', url, schema) }, [{ source: 'shop', timezone: 'UTC', tables: [{ name: 'items', mode: 'full', key: ['id'], lagSeconds: 0, chunkRows: 100_000 }] }])
  await p.load()
  return { client, schema, url, p }
}

function precompute(p: Pipeline) {
  return precomputeWarehouseSide({ sources: p.sources, exports: p.exports, warehouse: p.warehouse, reconcile: settings, lakeRoot: p.lakeRoot })
}

async function kept(p: Pipeline, source: string, table: string): Promise<KeptSegment[]> {
  return (JSON.parse(await readFile(join(cacheDir(p.warehouse.path), `${source}.${table}.json`), 'utf8')) as { segments: { entries: KeptSegment[] } }).segments.entries
}

describe('the warehouse side precomputed after a publish', () => {
  it('PostgreSQL: the first reconciliation reads only the source; a later publish or a change at the source is never hidden', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.items (id int PRIMARY KEY, v text, price numeric(10,2), tags text[], updated_at timestamptz NOT NULL)`)
    await client.query(`CREATE INDEX ON ${schema}.items (updated_at)`)
    await client.query(`INSERT INTO ${schema}.items SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE 'v' || g END, g / 100.0, ARRAY['a', g::text], '2026-01-01'::timestamptz + g * interval '1 second' FROM generate_series(1, 30000) g`)
    // The export's columns in another order than the table's: the precompute knows only the lake's order.
    const p = await pipeline({ shop: sourceConfig('postgres', url, schema) }, [{ source: 'shop', timezone: 'UTC', tables: [{ name: 'items', mode: 'incremental', cursor: 'updated_at', key: ['id'], lagSeconds: 0, chunkRows: 100_000, columns: ['updated_at', 'price', 'id', 'v', 'tags'] }] }])
    await p.load()

    // Nothing kept yet: the precompute (no source connection) computes every segment.
    const first = await precompute(p)
    expect(first.tables).toMatchObject([{ source: 'shop', table: 'items', status: 'kept', carried: 0 }])
    expect(first.tables[0]!.computed).toBeGreaterThan(50)
    const precomputed = await kept(p, 'shop', 'items')

    // The first reconciliation finds every warehouse segment kept, and the same ones a reconciliation computes.
    const r1 = await run(p)
    expect(r1.result).toMatchObject({ status: 'match', counts: { sourceRows: 30_000 } })
    expect(r1).toMatchObject({ computed: 0, carried: precomputed.length })
    await rm(cacheDir(p.warehouse.path), { recursive: true, force: true })
    expect((await run(p)).computed).toBe(precomputed.length)
    expect(await kept(p, 'shop', 'items')).toEqual(precomputed)

    // A change at the source after the precompute (cursor not moved): found, the warehouse side still carried.
    await client.query(`UPDATE ${schema}.items SET price = price + 1 WHERE id = 12345`)
    const silent = await run(p)
    expect(silent.result.different).toEqual([{ key: { id: '12345' }, columns: ['price'] }])
    expect(silent.computed).toBe(0)

    // The table changes (a publish of a delta) after the precompute, with no precompute since: the segments of the
    // changed keys are computed again by the reconciliation, not taken from the precompute.
    await client.query(`UPDATE ${schema}.items SET v = 'changed', updated_at = now() WHERE id IN (1000, 29000)`)
    await p.load()
    const stale = await run(p)
    expect(stale.computed).toBe(2)
    expect(stale.result.different).toEqual([{ key: { id: '12345' }, columns: ['price'] }])

    // And a precompute after that publish carries everything but those segments forward: nothing left to compute.
    await client.query(`UPDATE ${schema}.items SET v = 'changed again', updated_at = now() WHERE id = 15000`)
    await p.load()
    const again = await precompute(p)
    expect(again.tables).toMatchObject([{ status: 'kept', computed: 1 }])
    const r2 = await run(p)
    expect(r2.computed).toBe(0)
    expect(r2.result).toMatchObject({ status: 'mismatch', missingCount: 0, extraCount: 0, different: [{ key: { id: '12345' }, columns: ['price'] }] })
  }, 240_000)

  it('MariaDB: per-row sums precomputed and used; a silent change is found', async () => {
    const { connection, database, url } = await mysqlDatabase()
    await connection.query(`CREATE TABLE ${database}.nums (id bigint PRIMARY KEY, v varchar(20), amount decimal(10,2), updated_at datetime(6) NOT NULL, KEY (updated_at))`)
    await connection.query(`INSERT INTO ${database}.nums SELECT seq, CONCAT('v', seq), seq / 100, TIMESTAMPADD(SECOND, seq, '2026-01-01') FROM seq_1_to_30000`)
    const p = await pipeline({ bank: sourceConfig('mysql', url) }, [{ source: 'bank', timezone: 'UTC', tables: [{ name: 'nums', mode: 'incremental', cursor: 'updated_at', key: ['id'], lagSeconds: 0, chunkRows: 100_000 }] }])
    await p.load()
    expect((await precompute(p)).tables).toMatchObject([{ status: 'kept', carried: 0 }])
    await connection.query(`UPDATE ${database}.nums SET v = 'silent' WHERE id = 7777`)
    const r = await run(p)
    expect(r.computed).toBe(0)
    expect(r.carried).toBeGreaterThan(50)
    expect(r.result).toMatchObject({ status: 'mismatch', missingCount: 0, extraCount: 0, different: [{ key: { id: '7777' }, columns: ['v'] }] })
  }, 240_000)

  it('runs after a publish only when reconciliation is configured, one at a time, and stops on close', async () => {
    const { client, schema, url, p } = await fullExportedItems()
    const raw = { lake: p.lakeRoot, warehouse: p.warehouse.path, sources: { shop: { kind: 'postgres', url, schema } }, exports: p.exports }
    expect(reconcilePrecompute(parseConfig(raw, { origin: 'test', baseDir: '/' }), silentLogger)).toBeUndefined()
    expect(reconcilePrecompute(parseConfig({ ...raw, jobs: { reconcile: { precompute: false } } }, { origin: 'test', baseDir: '/' }), silentLogger)).toBeUndefined()

    const stage = reconcilePrecompute(parseConfig({ ...raw, jobs: { reconcile: settings } }, { origin: 'test', baseDir: '/' }), silentLogger)!
    // A publish that published nothing starts nothing.
    stage.afterPublish(await publish({ lakeRoot: p.lakeRoot, warehouse: p.warehouse }))
    await stage.idle()
    expect(existsSync(cacheDir(p.warehouse.path))).toBe(false)
    stage.afterPublish(await publish({ lakeRoot: p.lakeRoot, warehouse: p.warehouse, force: true }))
    // Not awaited by the publish; idle() waits for it.
    await stage.idle()
    const r = await run(p)
    expect(r).toMatchObject({ computed: 0, result: { status: 'match' } })
    await stage.close()

    // Triggers during a run coalesce into one more run; close interrupts and resolves, leaving nothing broken.
    await rm(cacheDir(p.warehouse.path), { recursive: true, force: true })
    const runner = new PrecomputeRunner({ sources: p.sources, exports: p.exports, warehouse: p.warehouse, reconcile: settings, lakeRoot: p.lakeRoot })
    runner.trigger()
    runner.trigger()
    runner.trigger()
    expect((await runner.idle())?.tables).toMatchObject([{ status: 'kept' }])
    runner.trigger()
    await runner.close()
    runner.trigger()
    expect(await runner.idle()).toBeDefined()
    expect((await run(p)).result.status).toBe('match')
  }, 240_000)

  it('in the pipeline: a publish stage starts the precompute, and a reconcile run of the same process waits for it instead of computing the warehouse side', async () => {
    const { client, schema, url, p } = await fullExportedItems()
    const config = parseConfig({ lake: p.lakeRoot, warehouse: p.warehouse.path, sources: { shop: { kind: 'postgres', url, schema } }, exports: p.exports, jobs: { reconcile: settings } }, { origin: 'test', baseDir: '/' })
    const segments: { carried: number; computed: number }[] = []
    const logger = createLogger({
      level: 'debug',
      destination: new Writable({
        write(chunk: Buffer, _encoding, done) {
          for (const line of chunk.toString().split('\n').filter(Boolean)) {
            const entry = JSON.parse(line) as { msg: string; carried: number; computed: number }
            if (entry.msg === 'reconcile warehouse segments') segments.push({ carried: entry.carried, computed: entry.computed })
          }
          done()
        },
      }),
    })
    const closers: (() => Promise<void> | void)[] = []
    onTestFinished(async () => {
      for (const close of closers.reverse()) await close()
    })
    const deps = await loadStageDeps(config, logger, (close) => void closers.push(close))
    const call = { runId: 'test-run', signal: new AbortController().signal, logger }
    await client.query(`UPDATE ${schema}.items SET v = 'changed' WHERE id = 5`)
    await deps.runExport!('shop', call)
    // A full export writes a new state file: nothing kept matches it until the precompute has run.
    await deps.publish!(call)
    await deps.reconcile!(call)
    // The precompute's computation (it logs the same line), then the reconciliation's, which carried everything.
    expect(segments).toHaveLength(2)
    expect(segments[0]!.computed).toBeGreaterThan(10)
    expect(segments[1]).toMatchObject({ carried: segments[0]!.computed, computed: 0 })
  }, 240_000)

  it('a precompute that fails is logged with its reason and never thrown: the next publish still triggers one', async () => {
    const { p } = await fullExportedItems()
    const warnings: string[] = []
    const logger = createLogger({
      level: 'warn',
      destination: new Writable({
        write(chunk: Buffer, _encoding, done) {
          warnings.push(...chunk.toString().split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { msg: string }).msg))
          done()
        },
      }),
    })
    // The snapshot's database file is damaged: the precompute cannot open it.
    const store = new SnapshotStore(p.warehouse.path)
    const damaged = store.databasePath((await store.current())!.id)
    await writeFile(damaged, 'not a database')
    const runner = new PrecomputeRunner({ sources: p.sources, exports: p.exports, warehouse: p.warehouse, reconcile: settings, lakeRoot: p.lakeRoot, logger })
    onTestFinished(() => runner.close())
    runner.trigger()
    expect(await runner.idle()).toBeUndefined()
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(/^reconcile precompute failed: /)
    expect(warnings[0]).toContain(damaged)
    runner.trigger()
    await runner.idle()
    expect(warnings).toHaveLength(2)
    expect(existsSync(cacheDir(p.warehouse.path))).toBe(false)
  }, 240_000)
})
