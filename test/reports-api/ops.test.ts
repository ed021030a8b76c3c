import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Command } from 'commander'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { createCommandContext } from '../../cli/command-context.ts'
import { registerServeCommand } from '../../cli/commands/serve-command.ts'
import { fixtureReportsDir, fixtureWarehouse, publishFixtureSnapshot } from '../helpers/snapshot-fixtures.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { testApi } from './api-harness.ts'

describe('operations endpoints', () => {
  it('/health is up at once; /ready is 503 until a snapshot is published', async () => {
    const { app, store } = await testApi({ publish: false })
    expect((await app.inject('/health')).json()).toEqual({ status: 'ok' })
    const notReady = await app.inject('/ready')
    expect(notReady.statusCode).toBe(503)
    expect(notReady.json().error.code).toBe('WAREHOUSE_NO_SNAPSHOT')
    expect(notReady.headers['retry-after']).toBe('1')
    const report = await app.inject('/reports/top_buyers')
    expect(report.statusCode).toBe(503)
    expect(report.json().error.code).toBe('WAREHOUSE_NO_SNAPSHOT')
    await publishFixtureSnapshot(store)
    await waitFor(async () => (await app.inject('/ready')).statusCode === 200)
    expect((await app.inject('/ready')).json()).toMatchObject({ status: 'ready', snapshot: { id: 1 } })
  })

  it('/metrics has requests and latencies per route, report query time, snapshot age and source freshness', async () => {
    const { app } = await testApi()
    await app.inject('/reports/top_buyers?top=3')
    await app.inject('/reports/nope')
    const res = await app.inject('/metrics')
    expect(res.headers['content-type']).toMatch(/text\/plain/)
    const text = res.body
    expect(text).toMatch(/coldpipe_api_requests_total\{method="GET",route="\/reports\/:name",status="200",app="coldpipe"\} 1/)
    expect(text).toMatch(/coldpipe_api_requests_total\{method="GET",route="\/reports\/:name",status="404",app="coldpipe"\} 1/)
    expect(text).toMatch(/coldpipe_api_request_duration_seconds_bucket\{le="[\d.]+",app="coldpipe",method="GET",route="\/reports\/:name"/)
    expect(text).toMatch(/coldpipe_report_query_duration_seconds_count\{app="coldpipe",report="top_buyers"\} 1/)
    expect(text).toMatch(/coldpipe_snapshot_age_seconds\{app="coldpipe"\} [\d.]+/)
    expect(text).toMatch(/coldpipe_source_lag_seconds\{source="ordering.orders",app="coldpipe"\} \d+/)
  })

  it('serves an OpenAPI document with one path per report, and the docs UI from local assets', async () => {
    const { app } = await testApi()
    const doc = (await app.inject('/docs/json')).json()
    expect(doc.openapi).toMatch(/^3\./)
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/reports', '/reports/{name}', '/reports/{name}/schema', '/sql', '/health', '/ready', '/metrics', '/reports/top_buyers']))
    const top = doc.paths['/reports/top_buyers'].get
    expect(top.parameters.find((p: { name: string }) => p.name === 'top')).toMatchObject({ in: 'query', required: false, schema: { type: 'integer', maximum: 1000 } })
    const ui = await app.inject('/docs/')
    const html = ui.statusCode === 200 ? ui.body : (await app.inject('/docs/static/index.html')).body
    expect(html).toMatch(/swagger/i)
    expect(html).not.toMatch(/https?:\/\/(cdn|unpkg|cdnjs|jsdelivr)/)
    const scripts = [...html.matchAll(/src="([^"]+)"/g)].map((m) => m[1]!)
    expect(scripts.length).toBeGreaterThan(0)
    for (const src of scripts) {
      expect(src).not.toMatch(/^https?:/)
      const url = new URL(src, 'http://localhost/docs/').pathname
      expect((await app.inject(url)).statusCode, url).toBe(200)
    }
  })

  it('maps fastify errors and unknown routes to coded JSON errors with request ids in the logs', async () => {
    const { app, logs } = await testApi()
    const missing = await app.inject('/nothing/here')
    expect(missing.statusCode).toBe(404)
    expect(missing.json()).toEqual({ error: { code: 'ROUTE_NOT_FOUND', message: 'no route GET /nothing/here', details: { method: 'GET', path: '/nothing/here' } } })
    const badBody = await app.inject({ method: 'POST', url: '/sql', headers: { 'content-type': 'application/json' }, payload: '{not json' })
    expect(badBody.statusCode).toBe(400)
    expect(badBody.json().error.code).toBe('REQUEST_INVALID')
    const badName = await app.inject('/reports/Bad-Name')
    expect(badName.json().error.code).toBe('REQUEST_INVALID')
    const withId = await app.inject({ url: '/reports/nope', headers: { 'x-request-id': 'req-abc-1' } })
    expect(withId.headers['x-request-id']).toBe('req-abc-1')
    const line = logs.find((entry) => entry.requestId === 'req-abc-1' && entry.code === 'REPORT_NOT_FOUND')
    expect(line).toMatchObject({ level: 30, status: 404 })
  })
})

describe('coldpipe serve', () => {
  it('serves the configured warehouse and reports on the given port', async () => {
    const { dir: warehouse, store } = await fixtureWarehouse()
    await publishFixtureSnapshot(store)
    const reports = await fixtureReportsDir()
    const dir = await tempDir()
    const configFile = join(dir, 'coldpipe.yaml')
    await writeFile(configFile, `lake: ${join(dir, 'lake')}\nwarehouse: ${warehouse}\nreports: ${reports}\napi: { port: 1 }\n`)
    const closers: (() => Promise<void> | void)[] = []
    onTestFinished(async () => {
      for (const close of closers.reverse()) await close()
    })
    const program = new Command().exitOverride().option('-c, --config <file>').option('--log-level <level>')
    const context = createCommandContext(program, (close) => closers.push(close))
    registerServeCommand(program, context)
    const previousPort = process.env.PORT
    process.env.PORT = '0' // overrides api.port from the config (1, which would fail)
    const written: string[] = []
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk))
      return true
    })
    try {
      await program.parseAsync(['node', 'coldpipe', '--config', configFile, '--log-level', 'silent', 'serve'])
    } finally {
      spy.mockRestore()
      if (previousPort === undefined) delete process.env.PORT
      else process.env.PORT = previousPort
    }
    expect(closers).toHaveLength(1)
    const url = /reports API on (http:\/\/[^\s]+)/.exec(written.join(''))?.[1]
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const res = await fetch(`${url}/reports/top_buyers?top=2`)
    expect(res.status).toBe(200)
    expect(((await res.json()) as { rows: unknown[] }).rows).toHaveLength(2)
  })
})
