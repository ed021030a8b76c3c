// The SQL view of the report page for a key with SQL rights: highlighted editor, schema browser from the
// snapshot, Ctrl-Enter, results in the same table and chart, cancel, and the statement kept in the URL.
import { describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/wait-for.ts'
import { openBrowser, startWebServer } from './web-harness.ts'

const timeoutMs = 180_000
const analyst = { key: 'analyst-key-0001', name: 'analyst', reports: ['*'], sql: true, jobs: false }

describe('report page: SQL editor', () => {
  it('browses the schema, runs with Ctrl-Enter, and shows the result in the table and chart', async () => {
    const server = await startWebServer({ config: { sqlEnabled: true, apiKeys: [analyst] } })
    const { page, external, consoleErrors } = await openBrowser(server.url)
    await page.goto(server.url)
    await page.locator('#api-key').fill(analyst.key)
    await page.locator('#api-key').press('Enter')
    await page.locator('a[data-view=sql]').click()
    await page.waitForURL(/view=sql/)
    // Schema browser: schemas, tables, columns with their types, from the snapshot.
    const orders = page.locator('#schema-browser button[data-table="ordering.orders"]')
    await orders.waitFor()
    await orders.locator('xpath=ancestor::details[1]/summary').click()
    const columns = await orders.locator('xpath=ancestor::details[1]').locator('.columns li').allTextContents()
    expect(columns.slice(0, 5)).toEqual(['idBIGINT', 'buyer_idINTEGER', 'item_idINTEGER', 'quantityINTEGER', 'unit_priceDECIMAL(10,2)'])
    // The editor highlights SQL (CodeMirror's syntax classes on keywords).
    const editor = page.locator('#sql-editor .cm-content')
    await editor.click()
    await page.keyboard.type('select status, count(*)::INTEGER as n, sum(quantity)::INTEGER as units from ')
    await page.keyboard.press('Escape')
    await orders.click()
    await editor.click()
    await page.keyboard.press('Control+End')
    await page.keyboard.type(' group by status order by status')
    await page.keyboard.press('Escape')
    expect(await editor.textContent()).toBe('select status, count(*)::INTEGER as n, sum(quantity)::INTEGER as units from ordering.orders group by status order by status')
    await waitFor(async () => (await page.locator('#sql-editor .cm-line span').count()) > 3)
    const keywordColor = await page.locator('#sql-editor .cm-line span', { hasText: /^select$/ }).evaluate((span) => (globalThis as any).getComputedStyle(span).color)
    expect(keywordColor).not.toBe(await editor.evaluate((node) => (globalThis as any).getComputedStyle(node).color))
    await page.keyboard.press('Control+Enter')
    await page.locator('#sql-table tbody tr').first().waitFor()
    expect(await page.locator('#sql-table tbody tr td:first-child').allTextContents()).toEqual(['cancelled', 'paid', 'shipped', 'submitted'])
    expect(await page.locator('#sql-status').textContent()).toMatch(/^4 rows in \d+ ms · snapshot 1$/)
    // The same chart component: a guess (x = the text column, y = the numbers) the reader can change.
    await page.locator('#sql-chart canvas').waitFor()
    expect(await page.locator('#sql-chart canvas').getAttribute('data-series')).toBe('2')
    await page.locator('#sql-chart-type').selectOption('stacked-bar')
    await waitFor(async () => (await page.locator('#sql-chart canvas').getAttribute('data-chart-type')) === 'stacked-bar')
    // Sorting a whole SQL result happens in the page.
    await page.locator('#sql-table th button[data-column=status]').click()
    await page.locator('#sql-table th button[data-column=status]').click()
    expect(await page.locator('#sql-table tbody tr td:first-child').allTextContents()).toEqual(['submitted', 'shipped', 'paid', 'cancelled'])
    // The statement is in the URL: a reload (or a shared link) brings it back.
    expect(new URL(page.url()).searchParams.get('sql')).toMatch(/^select status/)
    await page.reload()
    await page.locator('#sql-editor .cm-content').waitFor()
    expect(await page.locator('#sql-editor .cm-content').textContent()).toMatch(/from ordering\.orders group by status/)
    // An error of the API shows as such.
    // (Through the URL: retyping over highlighted text makes Chromium's contenteditable try inline styles, which the CSP blocks.)
    await page.goto(`${server.url}/?view=sql&sql=${encodeURIComponent('drop table ordering.orders')}`)
    await page.locator('#sql-editor .cm-content').waitFor()
    await page.locator('#sql-run').click()
    await page.locator('#sql-error').filter({ hasText: /^SQL_/ }).waitFor()
    expect(external).toEqual([])
    // 401: the first catalog request, before the key was typed.
    expect(consoleErrors.filter((text) => !/status of (400|401)/.test(text))).toEqual([])
  }, timeoutMs)

  it('cancels a running query, which frees its slot on the server', async () => {
    const server = await startWebServer({ config: { sqlEnabled: true, apiKeys: [analyst], sqlMaxConcurrent: 1, sqlMaxQueued: 0, sqlTimeoutMs: 120_000 } })
    const { page, apiCalls } = await openBrowser(server.url)
    await page.goto(`${server.url}/?view=sql&sql=${encodeURIComponent('select count(*) from range(200000) a, range(200000) b where a.range + b.range = -1')}`)
    await page.locator('#api-key').fill(analyst.key)
    await page.locator('#api-key').press('Enter')
    await page.locator('#sql-editor .cm-content').waitFor()
    await page.locator('#sql-run').click()
    await waitFor(() => apiCalls.includes('/sql'))
    expect(await page.locator('#sql-status').textContent()).toBe('Running…')
    await page.locator('#sql-cancel').click()
    expect(await page.locator('#sql-status').textContent()).toBe('Cancelled.')
    expect(await page.locator('#sql-cancel').isDisabled()).toBe(true)
    // With one worker and no queue, a new query only runs once the cancelled one has stopped on the server.
    await page.locator('#sql-editor .cm-content').click()
    await page.keyboard.press('Control+a')
    await page.keyboard.type('select 42 as answer')
    await waitFor(
      async () => {
        await page.keyboard.press('Control+Enter')
        return page.locator('#sql-table tbody td').filter({ hasText: '42' }).count()
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    )
  }, timeoutMs)
})
