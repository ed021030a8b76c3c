// API parts the report page builds on: reversed ranges refused, the ranges and charts it is told about, the
// schema browser's route, and the page's own static files.
import { describe, expect, it } from 'vitest'
import { parseReportDefinition } from '../../reports-api/report-definition.ts'
import { paramRanges } from '../../reports-api/report-params.ts'
import { testApi } from './api-harness.ts'
import { ensureWebBundle } from './web-harness.ts'

const analyst = { key: 'analyst-key-0001', name: 'analyst', reports: ['*'], sql: true, jobs: false }
const reader = { key: 'reader-key-00001', name: 'reader', reports: ['*'], sql: false, jobs: false }

const rangeReport = `/*---
name: ranged
params:
  ship_from: { type: timestamp, required: false }
  ship_to: { type: timestamp, required: false }
  min_units: { type: integer, required: false }
  max_units: { type: integer, required: false }
  from_day: { type: date, required: false }
  to_day: { type: string, required: false }
columns: [n]
---*/
select count(*) as n from ordering.orders
where ($ship_from is null or created_at >= $ship_from) and ($ship_to is null or created_at <= $ship_to)
  and ($min_units is null or quantity >= $min_units) and ($max_units is null or quantity <= $max_units)
  and ($from_day is null or order_date >= $from_day) and ($to_day is null or true)
`

const chartReport = `/*---
name: by_status
title: Orders per day and status
columns: [order_date, status, orders, units]
chart: { type: stacked-bar, x: order_date, y: orders, series: status }
---*/
select order_date, status, count(*)::INTEGER as orders, sum(quantity)::INTEGER as units from ordering.orders group by all order by all
`

describe('reversed ranges', () => {
  it('pairs from/to, prefixed and suffixed pairs, min/max, and only parameters of the same ordered type', () => {
    const definition = parseReportDefinition(rangeReport, 'ranged.sql', 'v1')
    expect(paramRanges(definition)).toEqual([
      { from: 'ship_from', to: 'ship_to' },
      { from: 'min_units', to: 'max_units' },
    ])
  })

  it('refuses from after to with REPORT_PARAM_INVALID naming the upper parameter; equal bounds and one-sided ranges run', async () => {
    const { app } = await testApi({ reports: { 'ranged.sql': rangeReport } })
    const reversed = await app.inject('/reports/orders_by_day?from=2024-02-10&to=2024-01-10')
    expect(reversed.statusCode).toBe(400)
    const error = reversed.json().error
    expect(error.code).toBe('REPORT_PARAM_INVALID')
    expect(error.message).toMatch(/"to" of report orders_by_day must not be before "from".*reversed/)
    expect(error.details).toMatchObject({ param: 'to', got: '2024-01-10', range: { from: 'from', to: 'to' } })
    // Timestamps compare as instants, whatever offset they were written with.
    const ts = await app.inject('/reports/ranged?ship_from=2024-01-02T00:30:00%2B01:00&ship_to=2024-01-01T23:00:00Z')
    expect(ts.statusCode).toBe(400)
    expect(ts.json().error.details.param).toBe('ship_to')
    expect((await app.inject('/reports/ranged?ship_from=2024-01-01T23:00:00%2B01:00&ship_to=2024-01-01T23:00:00Z')).statusCode).toBe(200)
    expect((await app.inject('/reports/ranged?min_units=3&max_units=2')).json().error.details.param).toBe('max_units')
    // Numbers compare as numbers, not text ("10" < "9").
    expect((await app.inject('/reports/ranged?min_units=9&max_units=10')).statusCode).toBe(200)
    expect((await app.inject('/reports/orders_by_day?from=2024-01-10&to=2024-01-10')).json().rows).toHaveLength(1)
    expect((await app.inject('/reports/orders_by_day?to=2024-01-10')).statusCode).toBe(200)
    // A streamed download checks the same way before it starts.
    expect((await app.inject('/reports/orders_by_day?from=2024-02-10&to=2024-01-10&stream=true&format=csv')).statusCode).toBe(400)
  })

  it('tells the page about the ranges, and passes several y columns and stacked bars through', async () => {
    const { app } = await testApi({ reports: { 'by_status.sql': chartReport } })
    const { reports } = (await app.inject('/reports')).json()
    const byName = Object.fromEntries(reports.map((r: { name: string }) => [r.name, r]))
    expect(byName.orders_by_day.ranges).toEqual([{ from: 'from', to: 'to' }])
    expect(byName.top_buyers.ranges).toEqual([])
    expect(byName.by_status.chart).toEqual({ type: 'stacked-bar', x: 'order_date', y: 'orders', series: 'status' })
  })
})

describe('sorted pages', () => {
  it('pages through a sort with many ties without repeating or skipping a row', async () => {
    const { app } = await testApi()
    const ids: number[] = []
    for (let offset = 0; ; offset += 7) {
      const body = (await app.inject(`/reports/all_orders?sort=-buyer_id&limit=7&offset=${offset}`)).json()
      ids.push(...body.rows.map((row: { id: string }) => Number(row.id)))
      const buyers = body.rows.map((row: { buyer_id: number }) => row.buyer_id)
      expect(buyers).toEqual([...buyers].sort((a: number, b: number) => b - a))
      if (!body.page.hasMore) break
    }
    expect(ids).toHaveLength(300)
    expect(new Set(ids).size).toBe(300)
  })
})

describe('chart declarations', () => {
  it('accepts y as a list of declared columns and names an undeclared one', () => {
    const ok = parseReportDefinition(`/*---\nname: two\ncolumns: [d, a, b]\nchart: { type: line, x: d, y: [a, b] }\n---*/\nselect 1 as d, 2 as a, 3 as b`, 'two.sql', 'v')
    expect(ok.chart?.y).toEqual(['a', 'b'])
    expect(() => parseReportDefinition(`/*---\nname: two\ncolumns: [d, a]\nchart: { type: bar, x: d, y: [a, c] }\n---*/\nselect 1 as d, 2 as a`, 'two.sql', 'v')).toThrow(
      /two\.sql: chart\.y: names column "c", which is not under columns/,
    )
    expect(() => parseReportDefinition(`/*---\nname: two\ncolumns: [d, a]\nchart: { type: pie, x: d, y: a }\n---*/\nselect 1 as d, 2 as a`, 'two.sql', 'v')).toThrow(/two\.sql: chart\.type/)
    expect(() => parseReportDefinition(`/*---\nname: two\ncolumns: [d, a]\nchart: { type: bar, x: d, y: [] }\n---*/\nselect 1 as d, 2 as a`, 'two.sql', 'v')).toThrow(/two\.sql: chart\.y/)
  })
})

describe('GET /sql/schema', () => {
  it("lists the current snapshot's schemas, tables and columns with types for a key with SQL rights", async () => {
    const { app } = await testApi({ config: { sqlEnabled: true, apiKeys: [analyst, reader] } })
    const res = await app.inject({ url: '/sql/schema', headers: { 'x-api-key': analyst.key } })
    expect(res.statusCode).toBe(200)
    const body = res.json()
    expect(body.snapshot.id).toBe(1)
    expect(body.schemas.map((s: { name: string }) => s.name)).toEqual(['catalog', 'coldpipe', 'ordering'])
    const ordering = body.schemas.find((s: { name: string }) => s.name === 'ordering')
    expect(ordering.tables.map((t: { name: string }) => t.name)).toEqual(['buyers', 'orders'])
    const orders = ordering.tables.find((t: { name: string }) => t.name === 'orders')
    expect(orders.kind).toBe('BASE TABLE')
    expect(orders.columns.slice(0, 5)).toEqual([
      { name: 'id', type: 'BIGINT' },
      { name: 'buyer_id', type: 'INTEGER' },
      { name: 'item_id', type: 'INTEGER' },
      { name: 'quantity', type: 'INTEGER' },
      { name: 'unit_price', type: 'DECIMAL(10,2)' },
    ])
  })

  it('is announced in the catalog only to keys that may run SQL', async () => {
    const { app } = await testApi({ config: { sqlEnabled: true, apiKeys: [analyst, reader] } })
    expect((await app.inject({ url: '/reports', headers: { 'x-api-key': analyst.key } })).json().sql).toBe(true)
    expect((await app.inject({ url: '/reports', headers: { 'x-api-key': reader.key } })).json().sql).toBe(false)
    const open = await testApi({ config: { sqlEnabled: true } })
    expect((await open.app.inject('/reports')).json().sql).toBe(false)
  })

  it('is refused like /sql: without a key, for a key without SQL rights, and when SQL is off', async () => {
    const { app } = await testApi({ config: { sqlEnabled: true, apiKeys: [analyst, reader] } })
    expect((await app.inject('/sql/schema')).json().error.code).toBe('AUTH_REQUIRED')
    const forbidden = await app.inject({ url: '/sql/schema', headers: { 'x-api-key': reader.key } })
    expect(forbidden.statusCode).toBe(403)
    expect(forbidden.json().error.code).toBe('AUTH_FORBIDDEN')
    const off = await testApi({ config: { apiKeys: [analyst] } })
    expect((await off.app.inject({ url: '/sql/schema', headers: { 'x-api-key': analyst.key } })).json().error.code).toBe('SQL_DISABLED')
  })

  it('answers 503 before any snapshot is published', async () => {
    const { app } = await testApi({ publish: false, config: { sqlEnabled: true, apiKeys: [analyst] } })
    const res = await app.inject({ url: '/sql/schema', headers: { 'x-api-key': analyst.key } })
    expect(res.statusCode).toBe(503)
    expect(res.json().error.code).toBe('WAREHOUSE_NO_SNAPSHOT')
  })
})

describe('page files', () => {
  it("serves the page's modules and bundles with a strict CSP, and nothing outside the web folder", async () => {
    ensureWebBundle()
    const { app } = await testApi()
    const page = await app.inject('/')
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self';/)
    expect(page.body).toContain('/web/app.js')
    for (const path of ['/web/app.js', '/web/result-chart.js', '/web/app.css', '/web/vendor/charts.js', '/web/vendor/editor.js']) {
      const res = await app.inject(path)
      expect(res.statusCode, path).toBe(200)
      expect(res.headers['content-type']).toMatch(path.endsWith('.css') ? /text\/css/ : /text\/javascript/)
    }
    for (const path of ['/web/missing.js', '/web/..%2Fweb-routes.ts', '/web/vendor-src%2Fcharts.js', '/web/index.html', '/web/vendor/charts.js.LEGAL.txt']) {
      expect((await app.inject(path)).statusCode, path).toBe(404)
    }
  })
})
