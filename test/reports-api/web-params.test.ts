// Parameter checks on the report page: the same schemas as the API (ranges, required, from ≤ to) before any
// request, and the API's refusal shown next to the field it names.
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/wait-for.ts'
import { openBrowser, startWebServer } from './web-harness.ts'

const timeoutMs = 120_000

const needsDay = `/*---
name: needs_day
title: Orders on one day
params:
  day: { type: date, minimum: '2024-01-01', maximum: '2024-12-31' }
columns: [orders]
---*/
select count(*) as orders from ordering.orders where order_date = $day
`

describe('report page: parameter checks', () => {
  it('refuses a reversed range next to the field, without asking the API', async () => {
    const server = await startWebServer()
    const { page, apiCalls } = await openBrowser(server.url)
    // A shared link with a reversed range waits, marked, instead of running.
    await page.goto(`${server.url}/?report=orders_by_day&from=2024-02-10&to=2024-01-10`)
    await page.locator('#param-to-error').filter({ hasText: 'must not be before from (2024-02-10)' }).waitFor()
    expect(await page.locator('#param-to').getAttribute('aria-invalid')).toBe('true')
    expect(apiCalls.filter((call) => call.startsWith('/reports/orders_by_day'))).toEqual([])
    // Fixed in the form, it runs; reversed again, Run is refused and the URL keeps the last good view.
    await page.locator('#param-to').fill('2024-02-20')
    await page.locator('#run').click()
    await page.locator('#table tbody tr').first().waitFor()
    expect(await page.locator('#table tbody tr').count()).toBe(11)
    expect(await page.locator('#param-to-error').textContent()).toBe('')
    const goodUrl = page.url()
    expect(goodUrl).toMatch(/from=2024-02-10&to=2024-02-20/)
    const calls = apiCalls.length
    await page.locator('#param-to').fill('2024-02-01')
    await page.locator('#run').click()
    await page.locator('#param-to-error').filter({ hasText: 'must not be before from' }).waitFor()
    expect(await page.locator('#error').textContent()).toBe('Check the marked parameters.')
    expect(apiCalls.length).toBe(calls)
    expect(page.url()).toBe(goodUrl)
  }, timeoutMs)

  it("checks required parameters and the schema's ranges before running", async () => {
    const server = await startWebServer({ reports: { 'needs_day.sql': needsDay } })
    const { page, apiCalls } = await openBrowser(server.url)
    await page.goto(`${server.url}/?report=needs_day`)
    await page.locator('#status').filter({ hasText: 'Fill in the parameters and press Run.' }).waitFor()
    await page.locator('#run').click()
    await page.locator('#param-day-error').filter({ hasText: 'required' }).waitFor()
    await page.locator('#param-day').fill('2025-03-01')
    await page.locator('#run').click()
    await page.locator('#param-day-error').filter({ hasText: 'must be on or before 2024-12-31' }).waitFor()
    expect(apiCalls.filter((call) => call.startsWith('/reports/needs_day'))).toEqual([])
    await page.goto(`${server.url}/?report=top_buyers&top=5000`)
    await page.locator('#param-top-error').filter({ hasText: 'must be at most 1000' }).waitFor()
    await page.locator('#param-top').fill('2.5')
    await page.locator('#run').click()
    await page.locator('#param-top-error').filter({ hasText: 'must be a whole number' }).waitFor()
    // Keyboard only: fix the field, Enter submits the form, and a header sorts with Enter.
    await page.locator('#param-top').fill('3')
    await page.locator('#param-top').press('Enter')
    await waitFor(async () => (await page.locator('#table tbody tr').count()) === 3)
    await page.locator('th button[data-column=orders]').focus()
    await page.keyboard.press('Enter')
    await page.waitForURL(/sort=orders/)
  }, timeoutMs)

  it("shows the API's refusal next to the field when the server's schema is stricter than the page's", async () => {
    const server = await startWebServer()
    const { page } = await openBrowser(server.url)
    await page.goto(`${server.url}/?report=top_buyers&top=5`)
    await page.locator('#table tbody tr').first().waitFor()
    // The report file changes under the open page: at most 10 buyers now.
    const file = join(server.reportsDir, 'top_buyers.sql')
    await writeFile(file, (await readFile(file, 'utf8')).replace('default: 20, minimum: 1, maximum: 1000', 'default: 5, minimum: 1, maximum: 10'))
    await page.locator('#param-top').fill('50')
    await page.locator('#run').click()
    await page.locator('#param-top-error').filter({ hasText: 'REPORT_PARAM_INVALID' }).waitFor()
    expect(await page.locator('#param-top-error').textContent()).toMatch(/parameter "top" of report top_buyers must be an integer between 1 and 10/)
    expect(await page.locator('#error').textContent()).toBe('The server refused a parameter; see the field above.')
    expect(await page.locator('#param-top').evaluate((input) => input === (globalThis as any).document.activeElement)).toBe(true)
    // The refused run does not leave the previous result on screen as if it were the answer.
    expect(await page.locator('#table tbody tr').count()).toBe(0)
  }, timeoutMs)
})
