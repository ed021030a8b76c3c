import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createLogger } from '../../core/logger.ts'
import { createMetricsRegistry } from '../../core/metrics.ts'
import { startServer } from '../../reports-api/index.ts'
import { fixtureReportsDir, fixtureWarehouse, publishFixtureSnapshot } from '../helpers/snapshot-fixtures.ts'
import { apiConfig } from './api-harness.ts'

describe('web page', () => {
  it('runs a report with parameters and shows rows in a table and the chart as SVG', async () => {
    const { store } = await fixtureWarehouse()
    await publishFixtureSnapshot(store)
    const server = await startServer({
      snapshots: store,
      reportsDir: await fixtureReportsDir(),
      config: apiConfig({ port: 0 }),
      logger: createLogger({ level: 'silent' }),
      metrics: createMetricsRegistry({ defaultMetrics: false }),
    })
    onTestFinished(() => server.close())
    const profile = await mkdtemp(join(tmpdir(), 'coldpipe-chromium-'))
    onTestFinished(() => rm(profile, { recursive: true, force: true }))
    // A fresh profile per run: playwright passes it as --user-data-dir.
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    })
    onTestFinished(() => browser.close())
    const page = await browser.newPage()
    const external: string[] = []
    const consoleErrors: string[] = []
    page.on('request', (request) => {
      if (!request.url().startsWith(server.url)) external.push(request.url())
    })
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text())
    })
    await page.goto(`${server.url}/`)
    await page.getByRole('button', { name: /Top buyers/ }).click()
    await page.locator('select[name=country]').selectOption('FR')
    await page.locator('input[name=top]').fill('7')
    await page.getByRole('button', { name: 'Run' }).click()
    await page.locator('#result tbody tr').first().waitFor()
    expect(await page.locator('#result tbody tr').count()).toBe(7)
    const headers = await page.locator('#result thead th').allTextContents()
    expect(headers).toEqual(['buyer_id', 'name', 'email', 'country', 'orders', 'revenue'])
    const countries = await page.locator('#result tbody tr td:nth-child(4)').allTextContents()
    expect(new Set(countries)).toEqual(new Set(['FR']))
    expect(await page.locator('#chart svg rect.bar').count()).toBe(7)
    const csvHref = await page.locator('#csv-link').getAttribute('href')
    expect(csvHref).toBe('/reports/top_buyers?top=7&country=FR&format=csv')
    const csv = await (await fetch(`${server.url}${csvHref}`)).text()
    expect(csv.trim().split('\n')).toHaveLength(8)

    await page.getByRole('button', { name: /Orders per day/ }).click()
    await page.locator('input[name=from]').fill('2024-01-10')
    await page.locator('input[name=to]').fill('2024-01-19')
    await page.getByRole('button', { name: 'Run' }).click()
    await page.locator('#chart svg path.line').waitFor({ state: 'attached' })
    expect(await page.locator('#result tbody tr').count()).toBe(10)

    await page.locator('input[name=from]').fill('')
    await page.getByRole('button', { name: /Top buyers/ }).click()
    await page.locator('input[name=top]').fill('5000')
    await page.locator('#params-form').evaluate((form) => form.setAttribute('novalidate', ''))
    await page.getByRole('button', { name: 'Run' }).click()
    await page.locator('#error').filter({ hasText: 'REPORT_PARAM_INVALID' }).waitFor()
    expect(external, 'requests outside the server').toEqual([])
    expect(consoleErrors.filter((text) => !/400|Bad Request/.test(text))).toEqual([])
  })
})
