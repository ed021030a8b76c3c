import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Kafka, logLevel } from 'kafkajs'
import { describe, expect, it, onTestFinished } from 'vitest'
import { startPipeline } from '../../cli/start-pipeline.ts'
import { parseConfig } from '../../cli/config/index.ts'
import { silentLogger } from '../../core/logger.ts'
import { startDevBroker } from '../../dev-broker/index.ts'
import { SnapshotStore } from '../../warehouse/index.ts'
import { postgresSchema } from '../helpers/databases.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { waitFor } from '../helpers/wait-for.ts'

const report = `/*---
name: orders_by_status
params:
  status: { type: string, required: false }
columns: [status, orders]
---*/
select status, count(*) as orders from shop.orders where ($status is null or status = $status) group by status
`

describe('coldpipe start (startPipeline)', () => {
  it('runs an export job over HTTP, publishes, serves the report, and lands change events from Kafka', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.orders (id int primary key, status text not null, updated_at timestamptz not null)`)
    await client.query(`INSERT INTO ${schema}.orders SELECT g, (ARRAY['paid','shipped','new'])[1 + g % 3], '2026-01-01'::timestamptz + g * interval '1 minute' FROM generate_series(1, 300) g`)
    const dir = await tempDir()
    await mkdir(join(dir, 'reports'))
    await writeFile(join(dir, 'reports', 'orders-by-status.sql'), report)
    const broker = await startDevBroker({ port: 0 })
    onTestFinished(() => broker.close())
    const topic = `shop.events.${Date.now()}`
    const config = parseConfig(
      {
        lake: './lake',
        warehouse: './warehouse',
        sources: { shop: { kind: 'postgres', url: `${url}`, schema } },
        exports: [{ source: 'shop', tables: [{ name: 'orders', mode: 'incremental', cursor: 'updated_at', key: ['id'] }] }],
        changes: { brokers: [broker.bootstrap], groupId: `g-${topic}`, flushMaxAgeMs: 200, topics: [{ topic, format: 'integration-event', service: 'shop' }] },
        reports: './reports',
        api: { port: 0, apiKeys: [{ key: 'ops-key-123', name: 'ops', jobs: true }, { key: 'bi-key-1234', name: 'bi', reports: ['orders_by_status'] }] },
        jobs: { catchUpOnStart: false, retryMaxAttempts: 0 },
      },
      { origin: 'test', baseDir: dir, env: {} },
    )
    const pipeline = await startPipeline({ config, logger: silentLogger, reportsDir: config.reports!, port: 0 })
    onTestFinished(() => pipeline.close())

    expect((await fetch(`${pipeline.url}/ready`)).status).toBe(503)
    const runJob = (key: string) =>
      fetch(`${pipeline.url}/jobs/export:shop/run`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': key }, body: JSON.stringify({ wait: true }) })
    // Running jobs needs a key that may run jobs.
    expect((await runJob('bi-key-1234')).status).toBe(403)
    const run = await runJob('ops-key-123')
    expect(run.status).toBe(200)
    expect(await run.json()).toMatchObject({ job: 'export:shop', status: 'succeeded', rows: 300 })

    const published = await pipeline.scheduler.runNow('publish')
    expect(published).toMatchObject({ status: 'succeeded' })
    const answer = await fetch(`${pipeline.url}/reports/orders_by_status?status=paid`, { headers: { 'x-api-key': 'bi-key-1234' } })
    expect(answer.status).toBe(200)
    expect(((await answer.json()) as { rows: unknown[] }).rows).toEqual([{ status: 'paid', orders: '100' }])

    // Change events flow through the same process into the lake, and the next publish shows them.
    const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING })
    const producer = kafka.producer()
    await producer.connect()
    onTestFinished(() => producer.disconnect())
    const events = Array.from({ length: 5 }, (_, i) => ({ key: String(i), value: JSON.stringify({ eventId: `e-${i}`, eventType: 'OrderPaid', occurredAt: '2026-01-02T00:00:00Z', payload: { orderId: i } }) }))
    await producer.send({ topic, messages: events })
    await waitFor(() => (pipeline.ingest!.stats().rowsLanded >= 5 ? true : false), { timeoutMs: 20_000, message: 'events landed' })
    // Ingest lag per partition, on the same /metrics as the API and the jobs.
    const metrics = await (await fetch(`${pipeline.url}/metrics`)).text()
    expect(metrics).toMatch(new RegExp(`coldpipe_ingest_partition_lag_seconds\\{topic="${topic.replace(/\./g, '\\.')}",partition="0"[^}]*\\} \\d`))
    expect(metrics).toMatch(/coldpipe_job_runs_total\{job="export:shop",status="succeeded"[^}]*\} 1/)
    const second = await pipeline.scheduler.runNow('publish')
    expect(second.error).toBeUndefined()
    const manifest = await new SnapshotStore(config.warehouse.path).current()
    expect(manifest?.tables).toEqual(expect.arrayContaining([expect.objectContaining({ schema: 'shop', name: 'events', rows: 5 })]))

    const status = (await (await fetch(`${pipeline.url}/jobs/status`, { headers: { 'x-api-key': 'ops-key-123' } })).json()) as { jobs: { id: string }[]; breakers: unknown[] }
    expect(status.jobs.map((j: { id: string }) => j.id)).toEqual(expect.arrayContaining(['export:shop', 'publish']))
    expect(status.breakers).toEqual([expect.objectContaining({ source: 'shop', state: 'closed' })])

    // A failing source fails its job with a coded error, and the API keeps serving.
    await client.query(`DROP TABLE ${schema}.orders`)
    const failed = await pipeline.scheduler.runNow('export:shop')
    expect(failed.status).toBe('failed')
    expect(failed.error?.message).toMatch(/orders/)
    expect((await fetch(`${pipeline.url}/reports/orders_by_status`, { headers: { 'x-api-key': 'bi-key-1234' } })).status).toBe(200)

    await pipeline.close()
    await expect(fetch(`${pipeline.url}/health`)).rejects.toThrow()
  })
})
