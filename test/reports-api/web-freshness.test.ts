// Freshness on the report page: per source "as of" in the viewer's time zone with its lag, the stale ones marked
// against the report's maxStalenessSeconds, the API's stale refusal with a way past it, and the snapshot.
import { describe, expect, it } from 'vitest'
import { openBrowser, startWebServer } from './web-harness.ts'

const timeoutMs = 120_000

function localTime(iso: string, timeZone: string): string {
  return new Date(iso).toLocaleString('en-US', { dateStyle: 'medium', timeStyle: 'short', timeZone })
}

describe('report page: freshness', () => {
  it('shows staleness past maxStalenessSeconds, and the data once the reader accepts it', async () => {
    const sourcesAsOf = new Date(Date.now() - 2 * 3600_000 - 5 * 60_000)
    const server = await startWebServer({ snapshot: { sourcesAsOf } })
    const timezoneId = 'Asia/Kolkata'
    const { page, consoleErrors } = await openBrowser(server.url, { timezoneId })
    await page.goto(`${server.url}/?report=stock`)
    const warning = page.locator('.stale-warning')
    await warning.waitFor()
    expect(await warning.locator('p').textContent()).toBe('Not shown: catalog.catalog_items is older than this report allows (60 min).')
    const stale = page.locator('.sources li.stale')
    expect(await stale.count()).toBe(1)
    expect(await stale.textContent()).toBe(`catalog.catalog_items as of ${localTime(sourcesAsOf.toISOString(), timezoneId)} (2 h 5 min behind, over the 60 min allowed)`)
    expect(await page.locator('#table tbody tr').count()).toBe(0)
    await page.locator('#accept-stale').click()
    await page.locator('#table tbody tr').first().waitFor()
    expect(await page.locator('#table tbody tr').count()).toBe(5)
    expect(page.url()).toMatch(/acceptStale=true/)
    expect(await page.locator('.stale-warning p').textContent()).toBe('Stale data: catalog.catalog_items is older than this report allows (60 min).')
    expect(await page.locator('.sources li.stale').count()).toBe(1)
    expect(await page.locator('#freshness .snapshot-line').textContent()).toMatch(/^snapshot 1 · published .* \(\d+ s ago\)$/)
    expect(await page.locator('#snapshot').textContent()).toMatch(/^snapshot 1 · published /)
    // A shared link that accepted stale data keeps doing so.
    await page.reload()
    await page.locator('#table tbody tr').first().waitFor()
    // A report without a staleness limit shows the lag of each of its sources, none marked.
    await page.locator('a[data-report=top_buyers]').click()
    await page.locator('.sources li[data-source="ordering.buyers"]').waitFor()
    expect(await page.locator('.sources li').allTextContents()).toEqual([
      `ordering.buyers as of ${localTime(sourcesAsOf.toISOString(), timezoneId)} (2 h 5 min behind)`,
      `ordering.orders as of ${localTime(sourcesAsOf.toISOString(), timezoneId)} (2 h 5 min behind)`,
    ])
    expect(await page.locator('.sources li.stale').count()).toBe(0)
    expect(await page.locator('.stale-warning').count()).toBe(0)
    expect(consoleErrors.filter((text) => !/503/.test(text))).toEqual([])
  }, timeoutMs)

  it('marks nothing when the data is within the limit', async () => {
    const server = await startWebServer({ snapshot: { sourcesAsOf: new Date(Date.now() - 12 * 60_000) } })
    const { page } = await openBrowser(server.url)
    await page.goto(`${server.url}/?report=stock`)
    await page.locator('#table tbody tr').first().waitFor()
    expect(await page.locator('.sources li').textContent()).toMatch(/\(12 min behind\)$/)
    expect(await page.locator('.sources li.stale').count()).toBe(0)
  }, timeoutMs)
})
