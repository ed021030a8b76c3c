import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createLogger } from '../../core/logger.ts'
import { createMetricsRegistry } from '../../core/metrics.ts'
import { buildApp } from '../../reports-api/index.ts'
import { SnapshotStore } from '../../warehouse/snapshot-store.ts'
import { apiConfig } from '../reports-api/api-harness.ts'
import { coldpipe } from '../cli/cli-process.ts'
import { postgresSchema } from '../helpers/databases.ts'
import { httpCapture } from '../helpers/http-capture.ts'
import { fixtureReportsDir } from '../helpers/snapshot-fixtures.ts'
import { tempDir } from '../helpers/temp-dir.ts'

describe('coldpipe reconcile, end to end', () => {
  it('the command, its job run, the mismatch alert, status, the snapshot table, GET /reconciliation and /metrics', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.items (id int PRIMARY KEY, name text, price numeric(10,2))`)
    await client.query(`INSERT INTO ${schema}.items SELECT g, 'item ' || g, g / 10.0 FROM generate_series(1, 5000) g`)
    const hook = await httpCapture()
    const dir = await tempDir()
    const file = join(dir, 'coldpipe.yaml')
    await writeFile(file, JSON.stringify({
      lake: './lake',
      warehouse: './warehouse',
      sources: { shop: { kind: 'postgres', url, schema, retryMaxAttempts: 0 } },
      exports: [{ source: 'shop', tables: [{ name: 'items', mode: 'full', key: ['id'] }] }],
      jobs: { retryMaxAttempts: 0, alertWebhookUrl: hook.url, reconcile: { lagSeconds: 0 } },
    }))
    const cli = (...args: string[]) => coldpipe(['--config', file, ...args])
    expect((await cli('export', 'shop')).code).toBe(0)
    expect((await cli('publish')).code).toBe(0)

    // `publish` computed the warehouse side (jobs.reconcile.precompute): the first reconciliation computes none of it.
    const same = await cli('--log-level', 'debug', 'reconcile')
    expect(same.stderr).not.toContain('"level":50')
    expect(same.code).toBe(0)
    const segments = same.stderr.split('\n').filter((line) => line.includes('"reconcile warehouse segments"')).map((line) => JSON.parse(line) as { carried: number; computed: number })
    expect(segments).toMatchObject([{ computed: 0 }])
    expect(segments[0]!.carried).toBeGreaterThan(0)
    expect(same.stdout).toMatch(/shop\.items\s+match\s+5,000\s+5,000/)
    expect(same.stdout).toContain('shop.items: compared the whole table as the source holds it now')

    await client.query(`UPDATE ${schema}.items SET price = 0.01 WHERE id = 2500`)
    await client.query(`DELETE FROM ${schema}.items WHERE id = 17`)
    const diff = await cli('reconcile', 'shop.items', '--json')
    expect(diff.code).toBe(1)
    const [result] = JSON.parse(diff.stdout) as { status: string; different: unknown[]; extra: unknown[] }[]
    expect(result).toMatchObject({ status: 'mismatch', different: [{ key: { id: '2500' }, columns: ['price'] }], extra: [{ key: { id: '17' } }] })
    // The run's warning is the alert: the table and its first differing keys.
    const alert = hook.requests.map((r) => JSON.parse(r.body) as { type: string; job: string; warnings?: { code: string; message: string; context: { table: string } }[] }).find((a) => a.type === 'job.warning')
    expect(alert).toMatchObject({ job: 'reconcile', warnings: [{ code: 'RECONCILE_MISMATCH', context: { table: 'shop.items' } }] })
    expect(alert!.warnings![0]!.message).toContain('"id":"17"')

    const status = await cli('status')
    expect(status.stdout).toContain('RECONCILIATION')
    expect(status.stdout).toMatch(/shop\.items {2}MISMATCH 0 missing, 1 extra, 1 different \(first keys 17, 2500\)/)
    expect(status.stdout).toMatch(/reconcile\s+manual\s+\S+ \S+ \(manual\)\s+succeeded/)

    // The next snapshot carries the latest results.
    expect((await cli('publish', '--force')).code).toBe(0)
    const sql = await cli('sql', '--format', 'json', '-c', 'select "table", status, extra_rows, different_rows, sample_keys from coldpipe.reconciliation')
    // (`sql --format json` prints BIGINT and JSON values as text.)
    expect(JSON.parse(sql.stdout)).toEqual([{ table: 'items', status: 'mismatch', extra_rows: '1', different_rows: '1', sample_keys: '[{"id":"17"},{"id":"2500"}]' }])

    // The reports API and its metrics read the same results.
    const app = await buildApp({
      snapshots: new SnapshotStore(join(dir, 'warehouse')), reportsDir: await fixtureReportsDir(), config: apiConfig(),
      logger: createLogger({ level: 'silent' }), metrics: createMetricsRegistry({ defaultMetrics: false }),
    })
    onTestFinished(() => app.close())
    const base = await app.listen({ host: '127.0.0.1', port: 0 })
    const list = await (await fetch(`${base}/reconciliation`)).json() as { tables: { table: string; status: string; extra: number }[] }
    expect(list.tables).toMatchObject([{ table: 'shop.items', status: 'mismatch', extra: 1, different: 1 }])
    const one = await fetch(`${base}/reconciliation/shop.items`)
    expect(await one.json()).toMatchObject({ source: 'shop', table: 'items', different: [{ key: { id: '2500' } }] })
    const missing = await fetch(`${base}/reconciliation/shop.nope`)
    expect(missing.status).toBe(404)
    expect(await missing.json()).toMatchObject({ error: { code: 'RECONCILE_TABLE_NOT_FOUND' } })
    const metrics = await (await fetch(`${base}/metrics`)).text()
    expect(metrics).toContain('coldpipe_reconcile_match{table="shop.items",status="mismatch",app="coldpipe"} 0')
    expect(metrics).toContain('coldpipe_reconcile_differing_rows{table="shop.items",app="coldpipe"} 2')
  }, 240_000)
})
