import { createHmac } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Value } from '@sinclair/typebox/value'
import { describe, expect, it, onTestFinished } from 'vitest'
import { silentLogger } from '../../core/logger.ts'
import { createMetricsRegistry } from '../../core/metrics.ts'
import { demoPii } from '../../demo/demo-config.ts'
import { demoExports, demoModelsDir, demoReportsDir, startShopDatabases, type ShopService } from '../../demo/shop/index.ts'
import { createExporter, sourceDefaults } from '../../ingest/export/index.ts'
import { clearErasure, eraseSubject, MaskingRules, PiiConfigSchema, registerMasking, unregisterMasking, type PiiConfig } from '../../ingest/pii/index.ts'
import { collectStatus, renderStatus } from '../../jobs/status.ts'
import { CommitLog } from '../../lake/index.ts'
import { readErasureList } from '../../lake/erasure/index.ts'
import { buildApp } from '../../reports-api/index.ts'
import { publish, SnapshotStore, WarehouseConfigSchema, type WarehouseConfig } from '../../warehouse/index.ts'
import { apiConfig } from '../reports-api/api-harness.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { findPlaintext, testKeyText } from './pii-fixtures.ts'

const services: ShopService[] = ['catalog', 'ordering', 'identity']

interface Answer {
  snapshot: { id: number }
  rows: Record<string, unknown>[]
}

describe('erasing one demo user', () => {
  it('leaves no trace in lake files, retained snapshots or API answers, keeps other rows, and keeps the user out of later exports', { timeout: 300_000 }, async () => {
    const dir = await tempDir()
    const lake = join(dir, 'lake')
    const shop = await startShopDatabases()
    onTestFinished(() => shop.close())
    const pii = Value.Default(PiiConfigSchema, structuredClone(demoPii)) as PiiConfig
    const rules = MaskingRules.fromConfig(pii, { COLDPIPE_PII_KEY: testKeyText })
    registerMasking(lake, rules)
    onTestFinished(() => unregisterMasking(lake))
    const sources = Object.fromEntries(services.map((s) => [s, { ...sourceDefaults, kind: 'postgres' as const, url: shop.urls[s] }]))
    const exporter = createExporter({ sources, exports: demoExports, lakeRoot: lake, logger: silentLogger })
    onTestFinished(() => exporter.close())
    let run = 0
    const exportAll = async (): Promise<void> => {
      run++
      for (const e of demoExports) for (const r of await exporter.runExport(e, { runId: `run-${run}-${e.source}` })) expect(r.error).toBeUndefined()
    }
    await exportAll()
    const warehouse = Value.Default(WarehouseConfigSchema, { path: join(dir, 'warehouse') }) as WarehouseConfig
    expect((await publish({ lakeRoot: lake, warehouse, models: demoModelsDir, logger: silentLogger })).published).toBe(true)
    expect((await publish({ lakeRoot: lake, warehouse, models: demoModelsDir, logger: silentLogger, force: true })).published).toBe(true)
    const store = new SnapshotStore(warehouse.path)
    const app = await buildApp({ snapshots: store, reportsDir: demoReportsDir, config: apiConfig(), logger: silentLogger, metrics: createMetricsRegistry({ defaultMetrics: false }) })
    onTestFinished(() => app.close())
    const report = async (path: string): Promise<{ answer: Answer; body: string }> => {
      const res = await app.inject(path)
      expect(res.statusCode).toBe(200)
      return { answer: res.json() as Answer, body: res.body }
    }

    // The top buyer whose name no other user shares (the seed repeats names): their answer is cached by the
    // API, their rows are in both retained snapshots.
    const before = await report('/reports/top_buyers?top=1000')
    const unique = new Set(
      (await shop.query<{ name: string }>('identity', 'SELECT name FROM users GROUP BY name HAVING count(*) = 1')).map((r) => r.name),
    )
    const buyerId = Number(before.answer.rows.find((r) => unique.has(String(r.name)))!.buyer_id)
    const [buyer] = await shop.query<{ user_id: string }>('ordering', 'SELECT user_id::text AS user_id FROM buyers WHERE id = $1', [buyerId])
    const [user] = await shop.query<{ id: string; email: string; name: string }>('identity', 'SELECT id::text AS id, email, name FROM users WHERE id = $1::uuid', [buyer!.user_id])
    expect(before.body).toContain(user!.email)
    const personal = [user!.id, user!.email, user!.name]

    // Counts and checksums of everyone else's rows, per table, from the current snapshot.
    const others: Record<string, string> = {
      'identity.users': `id::VARCHAR <> '${user!.id}'`,
      'ordering.buyers': `id <> ${buyerId}`,
      'ordering.orders': `buyer_id <> ${buyerId}`,
      'ordering.order_items': `order_id NOT IN (SELECT id FROM ordering.orders WHERE buyer_id = ${buyerId})`,
      'ordering.order_status_changes': `order_id NOT IN (SELECT id FROM ordering.orders WHERE buyer_id = ${buyerId})`,
      'catalog.catalog_items': 'true',
    }
    const checksums = async (filter: boolean): Promise<Record<string, unknown>> => {
      const { db } = await store.openReadOnly()
      try {
        const out: Record<string, unknown> = {}
        for (const [table, where] of Object.entries(others)) {
          const [row] = await db.all<{ n: bigint; c: string }>(`SELECT count(*) AS n, md5(string_agg(CAST(t AS VARCHAR), '|' ORDER BY CAST(t AS VARCHAR))) AS c FROM ${table} t WHERE ${filter ? where : 'true'}`)
          out[table] = { n: Number(row!.n), c: row!.c }
        }
        return out
      } finally {
        db.close()
      }
    }
    const kept = await checksums(true)
    expect((kept['ordering.orders'] as { n: number }).n).toBeGreaterThan(1000)
    const snapshotsBefore = await store.list()
    expect(snapshotsBefore).toHaveLength(2)
    expect((await findPlaintext(personal, [lake, warehouse.path])).length).toBeGreaterThan(0)

    const receipt = await eraseSubject({ lakeRoot: lake, rules, subject: 'user', value: user!.id, warehouse, models: demoModelsDir, logger: silentLogger })

    // Nothing of the user anywhere in the lake (receipt and erasure list included) or the warehouse.
    expect(await findPlaintext(personal, [lake, warehouse.path])).toEqual([])
    expect(await checksums(false)).toEqual(kept)
    // Retained snapshots from before were removed; the one left was built after the erasure.
    expect(await store.list()).toEqual([receipt.warehouse!.snapshotPublished])
    expect(receipt.warehouse!.snapshotsRemoved).toEqual(snapshotsBefore)
    // The API switches to the new snapshot and drops the old one's cached answers.
    await waitFor(async () => (await report('/reports/top_buyers?top=1000')).answer.snapshot.id === receipt.warehouse!.snapshotPublished, { timeoutMs: 30_000 })
    const after = await report('/reports/top_buyers?top=1000')
    for (const value of personal) expect(after.body).not.toContain(value)
    expect(after.answer.rows.map((r) => Number(r.buyer_id))).not.toContain(buyerId)

    // The receipt: what was done, without personal data.
    expect(receipt).toMatchObject({ subject: 'user', subjectHash: createHmac('sha256', testKeyText).update(user!.id).digest('hex') })
    expect(receipt.lake.rowsRemoved).toMatchObject({ 'identity.users': 1, 'ordering.buyers': 1 })
    expect(receipt.lake.rowsRemoved['ordering.orders']).toBeGreaterThan(0)
    expect(receipt.lake.rowsRemoved['ordering.order_items']).toBeGreaterThan(0)
    expect(receipt.lake.filesDeleted.length).toBeGreaterThan(0)
    for (const path of receipt.lake.filesDeleted) expect(existsSync(join(lake, path))).toBe(false)
    const log = await CommitLog.open(lake)
    const commit = await log.readCommit(receipt.lake.commits[0]!)
    expect(commit).toMatchObject({ kind: 'erasure', info: { reason: expect.stringContaining(receipt.id) } })
    const saved = JSON.parse(await readFile(join(lake, '_state', 'erasure', 'receipts', `${receipt.id}.json`), 'utf8'))
    expect(saved).toEqual(receipt)
    expect((await readErasureList(log.layout)).entries).toMatchObject([{ id: receipt.id, status: 'done' }])
    const status = await collectStatus({ lakeRoot: lake, warehousePath: warehouse.path, jobs: [] })
    expect(status.erasures).toMatchObject({ done: 1, pending: 0, overdue: [] })
    expect(renderStatus(status)).toContain('ERASURES')

    // The source still has the user: a new export does not bring them back while they are on the list.
    await exportAll()
    expect(await findPlaintext(personal, [lake])).toEqual([])
    expect((await publish({ lakeRoot: lake, warehouse, models: demoModelsDir, logger: silentLogger })).published).toBe(true)
    expect(await findPlaintext(personal, [warehouse.path])).toEqual([])

    // Cleared (once the source deleted them; here it has not): the next export lands the user again.
    await clearErasure(lake, receipt.id)
    await exportAll()
    expect((await findPlaintext([user!.id], [lake])).length).toBeGreaterThan(0)
  })
})
