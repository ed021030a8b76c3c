#!/usr/bin/env -S npx tsx
// Screenshots of the report page for review: every demo report at 1400 px and 420 px wide, plus the SQL view.
// Not run by the tests; the output folder (default ./screenshots, gitignored) is not committed.
//
//   npx tsx scripts/web-screenshots.ts [--out DIR] [--url http://127.0.0.1:3000]
//
// Without --url it starts the embedded demo (shop databases, dev broker, pipeline; about a minute on a small
// machine) in a temporary folder, and a second reports API on the demo's warehouse with an SQL key for the SQL
// view. With --url it uses a running server (e.g. `coldpipe demo`) and shoots the reports only.
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { Value } from '@sinclair/typebox/value'
import { chromium } from 'playwright-core'
import { createLogger } from '../core/logger.ts'
import { createMetricsRegistry } from '../core/metrics.ts'
import { runDemo, type RunningDemo } from '../demo/run-demo.ts'
import { demoReportsDir } from '../demo/shop/index.ts'
import { ApiConfigSchema, startServer, type ApiConfig } from '../reports-api/index.ts'
import { SnapshotStore } from '../warehouse/snapshot-store.ts'

const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
const widths = [1400, 420]
/** A view per demo report; the ones without defaults get the ranges of docs/demo.md. */
const views: [string, string][] = [
  ['revenue_by_brand_type', '/?report=revenue_by_brand_type&from=2026-06-01&to=2026-06-30&sort=-revenue'],
  ['stock_vs_sold', '/?report=stock_vs_sold&from=2026-08-01&to=2026-08-31'],
  ['top_buyers', '/?report=top_buyers'],
  ['order_status_funnel', '/?report=order_status_funnel'],
  ['live_order_funnel', '/?report=live_order_funnel'],
]
const sqlKey = 'screenshot-sql-key'
const sqlText = `select order_day, status, count(distinct order_id) as orders, sum(revenue) as revenue
from analytics.order_lines_enriched
where order_day between date '2026-10-01' and date '2026-10-14'
group by all order by all`

const { values: args } = parseArgs({ options: { out: { type: 'string', default: 'screenshots' }, url: { type: 'string' } } })
const out = resolve(args.out!)
await mkdir(out, { recursive: true })
const say = (line: string): void => void process.stderr.write(`${line}\n`)

let demo: RunningDemo | undefined
let sqlServer: Awaited<ReturnType<typeof startServer>> | undefined
let demoDir: string | undefined
let baseUrl = args.url
try {
  if (!baseUrl) {
    demoDir = await mkdtemp(join(tmpdir(), 'coldpipe-screens-'))
    demo = await runDemo({ dataDir: join(demoDir, 'demo'), port: 0, rateEventsPerSecond: 5, say })
    baseUrl = demo.url
    const config: ApiConfig = { ...(Value.Default(ApiConfigSchema, {}) as ApiConfig), sqlEnabled: true, apiKeys: [{ key: sqlKey, name: 'screens', reports: ['*'], sql: true, jobs: false }] }
    sqlServer = await startServer({
      snapshots: new SnapshotStore(join(demo.dataDir, 'warehouse')),
      reportsDir: demoReportsDir,
      config,
      port: 0,
      host: '127.0.0.1',
      logger: createLogger({ level: 'warn' }),
      metrics: createMetricsRegistry({ defaultMetrics: false }),
    })
  }
  const profile = await mkdtemp(join(tmpdir(), 'coldpipe-chromium-'))
  const context = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', headless: true, args: chromiumArgs, locale: 'en-US' })
  try {
    const page = context.pages()[0] ?? (await context.newPage())
    for (const width of widths) {
      await page.setViewportSize({ width, height: width > 600 ? 1000 : 900 })
      for (const [name, path] of views) {
        await page.goto(`${baseUrl}${path}`)
        // Done: a table, a refusal (stale data) or an error.
        await page.locator('#table table, #error:not(:empty), .stale-warning').first().waitFor({ timeout: 60_000 })
        const file = join(out, `${name}-${width}.png`)
        await page.screenshot({ path: file, fullPage: true })
        say(`wrote ${file}`)
      }
      if (sqlServer) {
        await page.goto(`${sqlServer.url}/?view=sql&sql=${encodeURIComponent(sqlText)}`)
        await page.locator('#api-key').fill(sqlKey)
        await page.locator('#api-key').press('Enter')
        await page.locator('#sql-editor .cm-content').waitFor()
        await page.locator('#schema-browser .schema-tree').waitFor()
        await page.locator('#sql-run').click()
        await page.locator('#sql-table table, #sql-error:not(:empty)').first().waitFor({ timeout: 60_000 })
        const file = join(out, `sql-${width}.png`)
        await page.screenshot({ path: file, fullPage: true })
        say(`wrote ${file}`)
        // The key stays in the tab (sessionStorage); the next width starts as a visitor again.
        await page.evaluate('sessionStorage.clear()')
      }
    }
  } finally {
    await context.close()
    await rm(profile, { recursive: true, force: true })
  }
} finally {
  await sqlServer?.close()
  await demo?.close()
  if (demoDir) await rm(demoDir, { recursive: true, force: true })
}
