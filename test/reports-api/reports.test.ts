import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { openDatabase } from '../../core/duckdb/index.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { publishFixtureSnapshot } from '../helpers/snapshot-fixtures.ts'
import { testApi } from './api-harness.ts'

function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let cell = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { cell += '"'; i++ }
      else if (ch === '"') quoted = false
      else cell += ch
    } else if (ch === '"') quoted = true
    else if (ch === ',') { row.push(cell); cell = '' }
    else if (ch === '\r') continue
    else if (ch === '\n') { row.push(cell); rows.push(row); row = []; cell = '' }
    else cell += ch
  }
  return rows
}

describe('GET /reports', () => {
  it('lists the reports with parameter schemas', async () => {
    const { app } = await testApi()
    const res = await app.inject('/reports')
    expect(res.statusCode).toBe(200)
    const body = res.json()
    const top = body.reports.find((r: { name: string }) => r.name === 'top_buyers')
    expect(top.title).toBe('Top buyers with their profile')
    expect(top.paramsSchema.properties.top).toMatchObject({ type: 'integer', default: 20, minimum: 1, maximum: 1000 })
    expect(top.paramsSchema.properties.country.enum).toEqual(['DE', 'FR', 'NL', 'US'])
    expect(top.paramsSchema.required).toEqual([])
    expect(top.chart).toEqual({ type: 'bar', x: 'name', y: 'revenue' })
    expect(body.invalid).toEqual([])
  })

  it('names the file and the field of a broken definition, and keeps serving the others', async () => {
    const { app } = await testApi({
      reports: {
        'broken.sql': `/*---\nname: broken\nparams:\n  limit: { type: integer, default: 5 }\n---*/\nselect 1 limit $limit`,
        'badtype.sql': `/*---\nname: badtype\nparams:\n  x: { type: uuid }\n---*/\nselect $x`,
        'unused.sql': `/*---\nname: unused\nparams:\n  x: { type: string, required: false }\n---*/\nselect 1`,
        'undeclared.sql': `/*---\nname: undeclared\n---*/\nselect $y`,
      },
    })
    const list = (await app.inject('/reports')).json()
    const byFile = Object.fromEntries(list.invalid.map((p: { file: string; message: string }) => [p.file, p.message]))
    expect(byFile['broken.sql']).toMatch(/broken\.sql: params\.limit: is reserved/)
    expect(byFile['badtype.sql']).toMatch(/badtype\.sql: params\.x\.type/)
    expect(byFile['unused.sql']).toMatch(/params\.x: is declared but the SQL never uses \$x/)
    expect(byFile['undeclared.sql']).toMatch(/params\.y: the SQL uses \$y/)
    const res = await app.inject('/reports/broken')
    expect(res.statusCode).toBe(500)
    expect(res.json().error).toMatchObject({ code: 'REPORT_DEFINITION_INVALID', details: { field: 'params.limit' } })
    expect((await app.inject('/reports/top_buyers')).statusCode).toBe(200)
  })
})

describe('GET /reports/:name', () => {
  it('answers JSON with snapshot, freshness, params, typed columns and exact numbers', async () => {
    const { app, store } = await testApi()
    const manifest = (await store.current())!
    const res = await app.inject('/reports/top_buyers?top=5&country=DE')
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/application\/json/)
    const body = res.json()
    expect(body.report).toBe('top_buyers')
    expect(body.snapshot).toEqual({ id: manifest.id, publishedAt: manifest.publishedAt })
    expect(body.params).toEqual({ top: 5, country: 'DE' })
    expect(body.columns.map((c: { name: string }) => c.name)).toEqual(['buyer_id', 'name', 'email', 'country', 'orders', 'revenue'])
    expect(body.columns.find((c: { name: string }) => c.name === 'revenue').type).toMatch(/DECIMAL/)
    expect(body.rows).toHaveLength(5)
    for (const row of body.rows) expect(row.country).toBe('DE')
    expect(typeof body.rows[0].revenue).toBe('string')
    expect(typeof body.rows[0].orders).toBe('string')
    expect(body.freshness.map((f: { source: string }) => f.source).sort()).toEqual(['ordering.buyers', 'ordering.orders'])
    for (const f of body.freshness) expect(f.lagSeconds).toBeGreaterThanOrEqual(0)
    expect(body.page).toMatchObject({ limit: 1000, offset: 0, returned: 5, total: 5, hasMore: false })
    expect(res.headers['x-coldpipe-snapshot']).toBe(String(manifest.id))
    expect(res.headers['x-coldpipe-data-as-of']).toBe(body.dataAsOf)
    expect(res.headers['x-request-id']).toBeTruthy()
  })

  it('keeps BIGINT exact', async () => {
    const { app } = await testApi()
    const body = (await app.inject('/reports/all_orders?limit=300')).json()
    const last = body.rows.at(-1)
    expect(last.big_number).toBe((299n * 1000000007n).toString())
    expect(body.rows).toHaveLength(300)
  })

  it('pages with limit/offset and sorts by declared columns only', async () => {
    const { app } = await testApi()
    const page1 = (await app.inject('/reports/all_orders?limit=100&offset=0&sort=-id')).json()
    const page3 = (await app.inject('/reports/all_orders?limit=100&offset=200&sort=-id')).json()
    expect(page1.rows[0].id).toBe('299')
    expect(page1.page).toMatchObject({ limit: 100, offset: 0, returned: 100, hasMore: true })
    expect(page1.page.total).toBeUndefined()
    expect(page3.rows.at(-1).id).toBe('0')
    expect(page3.page).toMatchObject({ returned: 100, hasMore: false, total: 300 })
    const byPrice = (await app.inject('/reports/all_orders?limit=5&sort=unit_price')).json()
    expect(byPrice.rows[0].unit_price).toBe('5.00')
    const bad = await app.inject('/reports/all_orders?sort=marker')
    expect(bad.statusCode).toBe(400)
    expect(bad.json().error).toMatchObject({ code: 'REPORT_PARAM_INVALID', details: { param: 'sort' } })
    const inject = await app.inject('/reports/all_orders?sort=' + encodeURIComponent('id; drop table x'))
    expect(inject.json().error.code).toBe('REPORT_PARAM_INVALID')
  })

  it('caps rows at api.maxRows', async () => {
    const { app } = await testApi({ config: { maxRows: 50 } })
    const body = (await app.inject('/reports/all_orders')).json()
    expect(body.rows).toHaveLength(50)
    expect(body.page.hasMore).toBe(true)
    const tooMany = await app.inject('/reports/all_orders?limit=51')
    expect(tooMany.statusCode).toBe(400)
    expect(tooMany.json().error.message).toMatch(/limit.*between 0 and 50/)
    const csv = await app.inject('/reports/all_orders?format=csv')
    expect(parseCsv(csv.body)).toHaveLength(51)
  })

  it('answers CSV, NDJSON and Parquet by Accept or ?format=', async () => {
    const { app } = await testApi()
    const csv = await app.inject({ url: '/reports/top_buyers?top=3', headers: { accept: 'text/csv' } })
    expect(csv.headers['content-type']).toMatch(/text\/csv/)
    const table = parseCsv(csv.body)
    expect(table[0]).toEqual(['buyer_id', 'name', 'email', 'country', 'orders', 'revenue'])
    expect(table).toHaveLength(4)
    const json = (await app.inject('/reports/top_buyers?top=3')).json()
    expect(table[1]).toEqual(json.columns.map((c: { name: string }) => String(json.rows[0][c.name])))

    const nd = await app.inject('/reports/top_buyers?top=3&format=ndjson')
    expect(nd.headers['content-type']).toMatch(/ndjson/)
    const lines = nd.body.trim().split('\n').map((line) => JSON.parse(line))
    expect(lines).toEqual(json.rows)

    const pq = await app.inject({ url: '/reports/all_orders', headers: { accept: 'application/vnd.apache.parquet' } })
    expect(pq.statusCode).toBe(200)
    expect(pq.rawPayload.subarray(0, 4).toString()).toBe('PAR1')
    const dir = await tempDir()
    const file = join(dir, 'r.parquet')
    await writeFile(file, pq.rawPayload)
    const db = await openDatabase(':memory:')
    try {
      const rows = await db.all<{ n: bigint; max_big: bigint }>(`select count(*) as n, max(big_number) as max_big from read_parquet('${file}')`)
      expect(rows[0]!.n).toBe(300n)
      expect(rows[0]!.max_big).toBe(299n * 1000000007n)
    } finally {
      db.close()
    }

    const unsupported = await app.inject({ url: '/reports/top_buyers', headers: { accept: 'image/png' } })
    expect(unsupported.statusCode).toBe(406)
    expect(unsupported.json().error.code).toBe('REPORT_FORMAT_UNSUPPORTED')
    expect((await app.inject('/reports/top_buyers?format=xml')).json().error.code).toBe('REPORT_FORMAT_UNSUPPORTED')
  })

  it('names the parameter in every parameter error', async () => {
    const { app } = await testApi({
      reports: { 'needs.sql': `/*---\nname: needs\nparams:\n  day: { type: date, description: Day }\n---*/\nselect count(*) as n from ordering.orders where order_date = $day` },
    })
    const cases: [string, string, Record<string, unknown>][] = [
      ['/reports/top_buyers?top=abc', 'REPORT_PARAM_INVALID', { param: 'top', got: 'abc' }],
      ['/reports/top_buyers?top=0', 'REPORT_PARAM_INVALID', { param: 'top', expected: 'an integer between 1 and 1000' }],
      ['/reports/top_buyers?top=1001', 'REPORT_PARAM_INVALID', { param: 'top' }],
      ['/reports/top_buyers?country=XX', 'REPORT_PARAM_INVALID', { param: 'country', got: 'XX' }],
      ['/reports/top_buyers?top=1&top=2', 'REPORT_PARAM_INVALID', { param: 'top' }],
      ['/reports/top_buyers?cuntry=DE', 'REPORT_PARAM_UNKNOWN', { param: 'cuntry' }],
      ['/reports/orders_by_day?from=2024-02-30', 'REPORT_PARAM_INVALID', { param: 'from' }],
      ['/reports/all_orders?paid=maybe', 'REPORT_PARAM_INVALID', { param: 'paid' }],
      ['/reports/all_orders?min_price=-1', 'REPORT_PARAM_INVALID', { param: 'min_price' }],
      ['/reports/all_orders?since=yesterday', 'REPORT_PARAM_INVALID', { param: 'since' }],
      ['/reports/needs', 'REPORT_PARAM_MISSING', { param: 'day' }],
      ['/reports/nope', 'REPORT_NOT_FOUND', { report: 'nope' }],
    ]
    for (const [url, code, details] of cases) {
      const res = await app.inject(url)
      expect(res.json().error, url).toMatchObject({ code, details })
      expect(res.statusCode, url).toBe(code === 'REPORT_NOT_FOUND' ? 404 : 400)
      if (details.param) expect(res.json().error.message, url).toContain(`"${details.param as string}"`)
    }
    expect((await app.inject('/reports/needs?day=2024-01-05')).json().rows[0].n).toBe('5')
  })

  it('binds typed parameters (dates, timestamps, booleans, numbers)', async () => {
    const { app } = await testApi()
    const days = (await app.inject('/reports/orders_by_day?from=2024-01-10&to=2024-01-12')).json()
    expect(days.rows.map((r: { order_date: string }) => r.order_date)).toEqual(['2024-01-10', '2024-01-11', '2024-01-12'])
    const paid = (await app.inject('/reports/all_orders?paid=true&min_price=50')).json()
    expect(paid.rows.length).toBeGreaterThan(0)
    for (const row of paid.rows) {
      expect(row.status).toBe('paid')
      expect(Number(row.unit_price)).toBeGreaterThanOrEqual(50)
    }
    const since = (await app.inject('/reports/all_orders?since=2024-01-05T00:00:00Z')).json()
    expect(since.rows.length).toBeGreaterThan(0)
    for (const row of since.rows) expect(row.created_at >= '2024-01-05').toBe(true)
  })

  it('never interpolates parameters: injection attempts are data or refused', async () => {
    const { app } = await testApi({
      reports: { 'by_status.sql': `/*---\nname: by_status\nparams:\n  status: { type: string }\n---*/\nselect count(*) as n from ordering.orders where status = $status` },
    })
    for (const attempt of ["' or 1=1 --", "paid' or '1'='1", "paid'; drop table ordering.orders; --", 'x\\\' union select 1 --']) {
      const res = await app.inject(`/reports/by_status?status=${encodeURIComponent(attempt)}`)
      expect(res.statusCode, attempt).toBe(200)
      expect(res.json().rows[0].n, attempt).toBe('0')
    }
    const enumAttempt = await app.inject(`/reports/top_buyers?country=${encodeURIComponent("' or 1=1 --")}`)
    expect(enumAttempt.json().error).toMatchObject({ code: 'REPORT_PARAM_INVALID', details: { param: 'country' } })
    const intAttempt = await app.inject(`/reports/top_buyers?top=${encodeURIComponent('1; select 1')}`)
    expect(intAttempt.json().error).toMatchObject({ code: 'REPORT_PARAM_INVALID', details: { param: 'top' } })
    expect((await app.inject('/reports/by_status?status=paid')).json().rows[0].n).toBe('75')
  })

  it('GET /reports/:name/schema describes parameters, columns and chart', async () => {
    const { app } = await testApi()
    const body = (await app.inject('/reports/orders_by_day/schema')).json()
    expect(body.paramsSchema.properties.from).toMatchObject({ type: 'string', format: 'date', description: 'First day' })
    expect(body.columns).toEqual(['order_date', 'orders', 'units', 'big_total'])
    expect(body.chart).toMatchObject({ type: 'line' })
    expect((await app.inject('/reports/nope/schema')).json().error.code).toBe('REPORT_NOT_FOUND')
  })
})

describe('caching and freshness', () => {
  it('answers 304 to a repeat with If-None-Match within one snapshot, and a new ETag after a publish', async () => {
    const { app, store } = await testApi()
    const first = await app.inject('/reports/top_buyers?top=5&country=FR')
    const etag = first.headers.etag as string
    expect(etag).toMatch(/^W\/"/)
    const again = await app.inject({ url: '/reports/top_buyers?country=FR&top=5', headers: { 'if-none-match': etag } })
    expect(again.statusCode).toBe(304)
    expect(again.body).toBe('')
    expect(again.headers['x-coldpipe-snapshot']).toBe(first.headers['x-coldpipe-snapshot'])
    const csv = await app.inject({ url: '/reports/top_buyers?top=5&country=FR&format=csv', headers: { 'if-none-match': etag } })
    expect(csv.statusCode).toBe(200)
    const other = await app.inject({ url: '/reports/top_buyers?top=6&country=FR', headers: { 'if-none-match': etag } })
    expect(other.statusCode).toBe(200)
    await publishFixtureSnapshot(store)
    await waitFor(async () => (await app.inject('/reports/top_buyers?top=5&country=FR')).headers.etag !== etag)
    const after = await app.inject({ url: '/reports/top_buyers?top=5&country=FR', headers: { 'if-none-match': etag } })
    expect(after.statusCode).toBe(200)
  })

  it('serves repeats from the cache', async () => {
    const { app } = await testApi()
    await app.inject('/reports/top_buyers')
    await app.inject('/reports/top_buyers')
    const metrics = (await app.inject('/metrics')).body
    expect(metrics).toMatch(/coldpipe_report_cache_hits_total\{report="top_buyers",app="coldpipe"\} 1/)
    expect(metrics).toMatch(/coldpipe_report_cache_misses_total\{report="top_buyers",app="coldpipe"\} 1/)
  })

  it('refuses a report whose sources are staler than it allows, unless stale data is accepted', async () => {
    const { app, store } = await testApi({ publish: false })
    const old = new Date(Date.now() - 2 * 3600 * 1000)
    await publishFixtureSnapshot(store, { sourcesAsOf: old })
    const res = await app.inject('/reports/stock')
    expect(res.statusCode).toBe(503)
    const error = res.json().error
    expect(error.code).toBe('REPORT_STALE')
    expect(error.message).toMatch(/catalog\.catalog_items is \d+ s old/)
    expect(error.details.maxStalenessSeconds).toBe(3600)
    expect(error.details.staleSources[0].source).toBe('catalog.catalog_items')
    const accepted = await app.inject('/reports/stock?acceptStale=true')
    expect(accepted.statusCode).toBe(200)
    expect(accepted.headers['x-coldpipe-stale']).toBe('true')
    expect(accepted.headers['x-coldpipe-data-as-of']).toBe(old.toISOString())
    expect(accepted.json().freshness).toEqual([{ source: 'catalog.catalog_items', asOf: old.toISOString(), lagSeconds: expect.any(Number) }])
    const byHeader = await app.inject({ url: '/reports/stock', headers: { 'x-coldpipe-accept-stale': 'true' } })
    expect(byHeader.statusCode).toBe(200)
    // Reports without maxStalenessSeconds answer whatever the age.
    expect((await app.inject('/reports/top_buyers')).statusCode).toBe(200)
    await publishFixtureSnapshot(store)
    await waitFor(async () => (await app.inject('/reports/stock')).statusCode === 200)
  })

  it('answers ?asOf from the newest snapshot published at or before that time', async () => {
    const { app, store } = await testApi({ publish: false })
    await publishFixtureSnapshot(store, { publishedAt: new Date('2024-03-01T00:00:00Z'), marker: 'march' })
    await publishFixtureSnapshot(store, { publishedAt: new Date('2024-04-01T00:00:00Z'), marker: 'april' })
    await publishFixtureSnapshot(store, { publishedAt: new Date('2024-05-01T00:00:00Z'), marker: 'may' })
    const marker = async (query: string) => (await app.inject(`/reports/which_snapshot${query}`)).json()
    expect((await marker('')).rows[0].marker).toBe('may')
    expect((await marker('?asOf=2024-04-15T00:00:00Z')).rows[0].marker).toBe('april')
    expect((await marker('?asOf=2024-04-01T00:00:00Z')).snapshot.id).toBe(2)
    expect((await marker('?asOf=2024-03-20')).rows[0].marker).toBe('march')
    expect((await marker('?asOf=2024-01-01')).error.code).toBe('WAREHOUSE_SNAPSHOT_NOT_FOUND')
    expect((await marker('?asOf=soon')).error).toMatchObject({ code: 'REPORT_PARAM_INVALID', details: { param: 'asOf' } })
  })

  it('switches to a newly published snapshot without a restart', async () => {
    const { app, store } = await testApi({ publish: false })
    await publishFixtureSnapshot(store, { marker: 'one' })
    // The pointer is re-read at most every 100 ms: an app that saw no snapshot at start sees the first one soon after.
    await waitFor(async () => (await app.inject('/reports/which_snapshot')).json().rows?.[0]?.marker === 'one')
    await publishFixtureSnapshot(store, { marker: 'two' })
    await waitFor(async () => (await app.inject('/reports/which_snapshot')).json().rows?.[0]?.marker === 'two')
    expect((await app.inject('/ready')).json().snapshot.id).toBe(2)
  })

  it('picks up an edited, added and removed report file without a restart', async () => {
    const { app, reportsDir } = await testApi()
    const file = join(reportsDir, 'which_snapshot.sql')
    await writeFile(file, `/*---\nname: which_snapshot\ntitle: Edited\n---*/\nselect 'edited' as marker`)
    await waitFor(async () => (await app.inject('/reports/which_snapshot')).json().rows?.[0]?.marker === 'edited')
    await writeFile(join(reportsDir, 'fresh.sql'), `/*---\nname: fresh\n---*/\nselect 42 as answer`)
    await waitFor(async () => (await app.inject('/reports/fresh')).statusCode === 200)
    const { rm } = await import('node:fs/promises')
    await rm(join(reportsDir, 'fresh.sql'))
    await waitFor(async () => (await app.inject('/reports/fresh')).statusCode === 404)
  })
})
