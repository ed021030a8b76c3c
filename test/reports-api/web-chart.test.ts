// Charts on the report page (Chart.js served by the API): stacked bars per series on a time axis, several y
// columns, long category labels shortened on the axis but whole in the tooltip, and "no rows" for empty results.
import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/wait-for.ts'
import { openBrowser, startWebServer } from './web-harness.ts'

const timeoutMs = 120_000

const reports = {
  'by_status.sql': `/*---
name: by_status
title: Orders per day and status
params:
  from: { type: date, default: '2024-01-01' }
  to: { type: date, default: '2024-01-14' }
columns: [order_date, status, orders, units]
chart: { type: stacked-bar, x: order_date, y: orders, series: status }
---*/
select order_date, status, count(*)::INTEGER as orders, sum(quantity)::INTEGER as units
from ordering.orders where order_date between $from and $to group by all order by all
`,
  'two_lines.sql': `/*---
name: two_lines
title: Orders and units per day
columns: [order_date, orders, units]
chart: { type: line, x: order_date, y: [orders, units] }
---*/
select order_date, count(*)::INTEGER as orders, sum(quantity)::INTEGER as units from ordering.orders group by all order by all
`,
  'long_names.sql': `/*---
name: long_names
title: Items with long names
columns: [label, stock]
chart: { type: bar, x: label, y: stock }
---*/
select case when id in (3, 4) then 'Twin' else 'Catalog item with a very long descriptive name number ' || id end as label, available_stock as stock
from catalog.catalog_items order by id limit 12
`,
}

interface ChartFacts {
  type: string
  stacked: boolean
  xScale: string
  datasets: { label: string; points: number }[]
  labels: string[]
  ticks: string[]
  values: unknown[]
}

async function chartFacts(page: Page): Promise<ChartFacts> {
  await page.locator('#chart canvas').waitFor()
  // The page keeps the Chart.js instance on its container (see result-chart.js).
  return page.locator('#chart').evaluate((node: any) => {
    const chart = node.__chart
    return {
      type: chart.config.type,
      stacked: Boolean(chart.options.scales.y.stacked),
      xScale: chart.scales.x.type,
      datasets: chart.data.datasets.map((d: { label: string; data: unknown[] }) => ({ label: d.label, points: d.data.length })),
      labels: (chart.data.labels ?? []).map(String),
      ticks: chart.scales.x.ticks.map((t: { label: string }) => String(t.label)),
      values: chart.data.datasets[0].data,
    }
  })
}

describe('report page: charts', () => {
  it('draws a stacked bar per series value on a time axis, and several y columns as lines', async () => {
    const server = await startWebServer({ reports })
    const { page, consoleErrors } = await openBrowser(server.url)
    await page.goto(`${server.url}/?report=by_status`)
    const stacked = await chartFacts(page)
    expect(stacked).toMatchObject({ type: 'bar', stacked: true, xScale: 'time' })
    expect(stacked.datasets.map((d) => d.label).sort()).toEqual(['cancelled', 'paid', 'shipped', 'submitted'])
    // 14 days, each status on every 4th day: the points of all series add up to the rows.
    expect(stacked.datasets.reduce((n, d) => n + d.points, 0)).toBe(await page.locator('#table tbody tr').count())
    expect(await page.locator('#chart canvas').getAttribute('aria-label')).toBe('Stacked bar chart of orders by order_date, one series per status')
    // Time ticks are dates, not the raw strings.
    expect(stacked.ticks.some((t) => /Jan \d+/.test(t))).toBe(true)

    await page.locator('a[data-report=two_lines]').click()
    await waitFor(async () => (await page.locator('#chart canvas').getAttribute('data-chart-type')) === 'line')
    const lines = await chartFacts(page)
    expect(lines).toMatchObject({ type: 'line', stacked: false, xScale: 'time' })
    expect(lines.datasets).toEqual([
      { label: 'orders', points: 60 },
      { label: 'units', points: 60 },
    ])
    expect(consoleErrors).toEqual([])
  }, timeoutMs)

  it('shortens long category labels on the axis and shows the whole value on hover', async () => {
    const server = await startWebServer({ reports })
    const { page } = await openBrowser(server.url, { viewport: { width: 420, height: 900 } })
    await page.goto(`${server.url}/?report=long_names`)
    const facts = await chartFacts(page)
    expect(facts.xScale).toBe('category')
    expect(facts.labels[0]).toBe('Catalog item with a very long descriptive name number 0')
    expect(facts.ticks.length).toBeGreaterThan(0)
    for (const tick of facts.ticks) expect(tick.length).toBeLessThanOrEqual(16)
    expect(facts.ticks[0]).toBe('Catalog item wi…')
    // Two rows with the same label stay two bars, in the table's order.
    expect(facts.labels.filter((label) => label === 'Twin')).toHaveLength(2)
    expect(facts.values).toEqual((await page.locator('#table tbody td:nth-child(2)').allTextContents()).map(Number))
    const point = await page.locator('#chart').evaluate((node: any) => {
      const chart = node.__chart
      const bar = chart.getDatasetMeta(0).data[0]
      const box = chart.canvas.getBoundingClientRect()
      return { x: box.left + bar.x, y: box.top + (bar.y + bar.base) / 2 }
    })
    await page.mouse.move(point.x, point.y)
    const title = await waitFor(() =>
      page.locator('#chart').evaluate((node: any) => {
        const chart = node.__chart
        return chart.tooltip.opacity > 0 ? chart.tooltip.title[0] : undefined
      }),
    )
    expect(title).toBe('Catalog item with a very long descriptive name number 0')
  }, timeoutMs)

  it('says "no rows" for an empty result instead of drawing zeros', async () => {
    const server = await startWebServer({ reports })
    const { page } = await openBrowser(server.url)
    await page.goto(`${server.url}/?report=by_status&from=2030-01-01&to=2030-01-31`)
    await page.locator('#chart .chart-note').waitFor()
    expect(await page.locator('#chart .chart-note').textContent()).toBe('No rows: nothing to chart.')
    expect(await page.locator('#chart canvas').count()).toBe(0)
    expect(await page.locator('#table .empty').textContent()).toBe('No rows.')
    // And a chart comes back for the next result with rows.
    await page.locator('#param-from').fill('2024-01-01')
    await page.locator('#param-to').fill('2024-01-03')
    await page.locator('#run').click()
    const facts = await chartFacts(page)
    expect(facts.datasets.length).toBe(3)
  }, timeoutMs)
})
