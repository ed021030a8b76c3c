// The report page in Debian's chromium against a real server: shared links, sorting, paging, back/forward, downloads.
import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/wait-for.ts'
import { openBrowser, startWebServer } from './web-harness.ts'

const timeoutMs = 120_000

function parseCsvLines(text: string): string[] {
  return text.trim().split(/\r?\n/)
}

describe('report page: links, sorting, paging, downloads', () => {
  it('opens a shared link with its parameters and sort, runs it without a click, and makes no outside request', async () => {
    const oddNames = `/*---\nname: odd_names\ntitle: Odd parameter names\nparams:\n  report: { type: string }\n  sql: { type: string }\ncolumns: [r, s]\n---*/\nselect $report as r, $sql as s\n`
    const server = await startWebServer({ reports: { 'odd_names.sql': oddNames } })
    const { page, external, consoleErrors, apiCalls } = await openBrowser(server.url)
    await page.goto(`${server.url}/?report=top_buyers&top=7&country=FR&sort=revenue`)
    await page.locator('#table tbody tr').first().waitFor()
    expect(await page.locator('#table tbody tr').count()).toBe(7)
    expect(await page.locator('#param-top').inputValue()).toBe('7')
    expect(await page.locator('#param-country').inputValue()).toBe('FR')
    expect(await page.locator('#report-title').textContent()).toBe('Top buyers with their profile')
    expect(await page.locator('#table thead th').allTextContents()).toEqual(['buyer_id↕', 'name↕', 'email↕', 'country↕', 'orders↕', 'revenue▲'])
    expect(new Set(await page.locator('#table tbody td:nth-child(4)').allTextContents())).toEqual(new Set(['FR']))
    const revenue = (await page.locator('#table tbody td:nth-child(6)').allTextContents()).map(Number)
    expect(revenue).toEqual([...revenue].sort((a, b) => a - b))
    expect(await page.locator('th[aria-sort=ascending]').textContent()).toContain('revenue')
    // Sorting is the API's: the request carries it.
    expect(apiCalls).toContain('/reports/top_buyers?top=7&country=FR&sort=revenue&limit=100&offset=0')
    expect(await page.locator('a[data-report=top_buyers]').getAttribute('aria-current')).toBe('page')
    // Parameters named like the page's own keys travel as p.<name>.
    await page.goto(`${server.url}/?report=odd_names&p.report=a&p.sql=b`)
    await waitFor(async () => (await page.locator('#table tbody td').allTextContents()).join() === 'a,b')
    expect(apiCalls).toContain('/reports/odd_names?report=a&sql=b&limit=100&offset=0')
    await page.locator('#param-report').fill('c')
    await page.locator('#run').click()
    await page.waitForURL(/p\.report=c&p\.sql=b/)
    // A link to a report that is not there says so.
    await page.goto(`${server.url}/?report=no_such_report&top=3`)
    await page.locator('#notice').filter({ hasText: 'No report "no_such_report" for visitors without a key; showing all_orders instead.' }).waitFor()
    // The landing page runs the first report when its defaults are valid.
    await page.goto(`${server.url}/`)
    await page.locator('#table tbody tr').first().waitFor()
    expect(await page.locator('#report-title').textContent()).toBe('Every order')
    expect(external, 'requests outside the server').toEqual([])
    expect(consoleErrors).toEqual([])
  }, timeoutMs)

  it('sorts on the server, pages through every row, and back/forward walk the views', async () => {
    const server = await startWebServer()
    const { page, consoleErrors } = await openBrowser(server.url)
    await page.goto(`${server.url}/?report=all_orders&limit=50`)
    await page.locator('#table tbody tr').first().waitFor()
    expect(await page.locator('.pager .range').textContent()).toBe('Rows 1–50 of more than 50')
    await page.locator('th button[data-column=buyer_id]').click()
    await page.waitForURL(/sort=buyer_id/)
    await waitFor(async () => (await page.locator('#table tbody td:nth-child(2)').first().textContent()) === '0')
    await page.locator('th button[data-column=buyer_id]').click()
    await page.waitForURL(/sort=-buyer_id/)
    await waitFor(async () => (await page.locator('#table tbody td:nth-child(2)').first().textContent()) === '49')
    const ids = new Set<string>()
    for (let pageNo = 1; ; pageNo++) {
      await waitFor(async () => (await page.locator('.pager .range').textContent())?.startsWith(`Rows ${(pageNo - 1) * 50 + 1}–`))
      const buyers = (await page.locator('#table tbody td:nth-child(2)').allTextContents()).map(Number)
      expect(buyers).toEqual([...buyers].sort((a, b) => b - a))
      for (const id of await page.locator('#table tbody td:nth-child(1)').allTextContents()) ids.add(id)
      const next = page.locator('.pager button[data-page=next]')
      if (await next.isDisabled()) break
      await next.click()
    }
    expect(ids.size).toBe(300)
    expect(await page.locator('.pager .range').textContent()).toBe('Rows 251–300 of 300')
    expect(page.url()).toMatch(/offset=250/)
    await page.goBack()
    await page.waitForURL(/offset=200/)
    await waitFor(async () => (await page.locator('.pager .range').textContent()) === 'Rows 201–250 of more than 250')
    await page.goForward()
    await waitFor(async () => (await page.locator('.pager .range').textContent()) === 'Rows 251–300 of 300')
    // Page size is part of the view too.
    await page.locator('.pager select').selectOption('500')
    await waitFor(async () => (await page.locator('.pager .range').textContent()) === 'Rows 1–300 of 300')
    expect(page.url()).toMatch(/limit=500/)
    expect(page.url()).not.toMatch(/offset=/)
    // Back across reports: the list's link is a new view.
    await page.locator('a[data-report=stock]').click()
    await waitFor(async () => (await page.locator('#report-title').textContent()) === 'Stock by brand')
    await page.goBack()
    await waitFor(async () => (await page.locator('#report-title').textContent()) === 'Every order')
    expect(consoleErrors).toEqual([])
  }, timeoutMs)

  it('downloads the whole sorted result as CSV and Parquet, streamed, with or without a key', async () => {
    const server = await startWebServer()
    const { page } = await openBrowser(server.url)
    await page.goto(`${server.url}/?report=all_orders&sort=-id&limit=50`)
    await page.locator('#table tbody tr').first().waitFor()
    expect(await page.locator('#download-csv').getAttribute('href')).toBe('/reports/all_orders?sort=-id&stream=true&format=csv')
    const [csvDownload] = await Promise.all([page.waitForEvent('download'), page.locator('#download-csv').click()])
    const csv = parseCsvLines(await readFile((await csvDownload.path())!, 'utf8'))
    // Every row, not the 50 on screen, in the page's order.
    expect(csv).toHaveLength(301)
    expect(csv[0]).toBe('id,buyer_id,unit_price,big_number,created_at,status')
    expect(csv[1]!.split(',')[0]).toBe('299')
    const [parquetDownload] = await Promise.all([page.waitForEvent('download'), page.locator('#download-parquet').click()])
    const parquet = await readFile((await parquetDownload.path())!)
    expect(parquet.subarray(0, 4).toString()).toBe('PAR1')
    expect(parquet.subarray(-4).toString()).toBe('PAR1')
    expect(parquetDownload.suggestedFilename()).toBe('all_orders.parquet')
  }, timeoutMs)

  it('sends the API key with downloads when keys are required', async () => {
    const reader = { key: 'reader-key-00001', name: 'reader', reports: ['*'], sql: false, jobs: false }
    const server = await startWebServer({ config: { apiKeys: [reader] } })
    const { page, apiCalls } = await openBrowser(server.url)
    await page.goto(`${server.url}/?report=orders_by_day&from=2024-01-10&to=2024-01-19`)
    await page.locator('#invalid').filter({ hasText: 'AUTH_REQUIRED' }).waitFor()
    await page.locator('#api-key').fill(reader.key)
    await page.locator('#api-key').press('Enter')
    await page.locator('#table tbody tr').first().waitFor()
    expect(await page.locator('#table tbody tr').count()).toBe(10)
    // No SQL entry for a key without SQL rights.
    expect(await page.locator('a[data-view=sql]').count()).toBe(0)
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#download-csv').click()])
    expect(download.suggestedFilename()).toBe('orders_by_day.csv')
    expect(parseCsvLines(await readFile((await download.path())!, 'utf8'))).toHaveLength(11)
    expect(apiCalls).toContain('/reports/orders_by_day?from=2024-01-10&to=2024-01-19&stream=true&format=csv')
    // The key survives a reload of the tab.
    await page.reload()
    await page.locator('#table tbody tr').first().waitFor()
    expect(await page.locator('#api-key').inputValue()).toBe(reader.key)
  }, timeoutMs)

  it('does not pass off a download cut halfway as a whole file', async () => {
    const reader = { key: 'reader-key-00001', name: 'reader', reports: ['*'], sql: false, jobs: false }
    // Fails inside DuckDB after many rows were already streamed out.
    const breaking = `/*---
name: breaking
title: Breaks halfway
columns: [n, padding]
---*/
select range as n, repeat('x', 200) as padding from range(400000) where case when range = 300000 then error('broken halfway') else true end
`
    const server = await startWebServer({ reports: { 'breaking.sql': breaking }, config: { apiKeys: [reader] } })
    const { page } = await openBrowser(server.url)
    await page.goto(`${server.url}/?report=breaking&limit=50`)
    await page.locator('#api-key').fill(reader.key)
    await page.locator('#api-key').press('Enter')
    await page.locator('#table tbody tr').first().waitFor()
    let downloads = 0
    page.on('download', () => downloads++)
    await page.locator('#download-csv').click()
    await page.locator('#error').filter({ hasText: /^Download failed/ }).waitFor({ timeout: 60_000 })
    expect(downloads).toBe(0)
    expect(await page.locator('#error').textContent()).toBe('Download failed: the server stopped before the end of the file; nothing was saved')
  }, timeoutMs)

  it('fits a 400 px wide screen without sideways scrolling, and is reachable from the keyboard', async () => {
    const server = await startWebServer()
    const { page } = await openBrowser(server.url, { viewport: { width: 400, height: 800 } })
    const overflow = () => page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')
    for (const report of ['all_orders', 'orders_by_day', 'top_buyers', 'stock', 'which_snapshot']) {
      await page.goto(`${server.url}/?report=${report}`)
      await page.locator('#table table, #status:has-text("Fill in")').first().waitFor()
      expect(await overflow(), report).toBe(0)
    }
    // Wide tables scroll inside their own frame, which takes focus so keys can scroll it.
    expect(await page.locator('.table-wrap').getAttribute('tabindex')).toBe('0')
    // Tab order: the skip link first, the home link, the key, then the report list; Enter follows a report link.
    await page.goto(`${server.url}/?report=stock`)
    await page.locator('#table tbody tr').first().waitFor()
    const focused = () => page.evaluate('document.activeElement.id || document.activeElement.dataset.report || document.activeElement.className')
    await page.keyboard.press('Tab')
    expect(await focused()).toBe('skip')
    await page.keyboard.press('Tab')
    expect(await focused()).toBe('home')
    await page.keyboard.press('Tab')
    expect(await focused()).toBe('api-key')
    await page.keyboard.press('Tab')
    expect(await focused()).toBe('all_orders')
    await page.keyboard.press('Tab')
    await page.keyboard.press('Enter')
    await page.waitForURL(/report=orders_by_day/)
  }, timeoutMs)
})
