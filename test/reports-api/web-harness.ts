import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { onTestFinished } from 'vitest'
import { createLogger } from '../../core/logger.ts'
import { createMetricsRegistry } from '../../core/metrics.ts'
import { startServer, type ApiConfig } from '../../reports-api/index.ts'
import type { SnapshotStore } from '../../warehouse/snapshot-store.ts'
import { fixtureReportsDir, fixtureWarehouse, publishFixtureSnapshot, type FixtureSnapshotOptions } from '../helpers/snapshot-fixtures.ts'
import { apiConfig } from './api-harness.ts'

export const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

const root = join(import.meta.dirname, '..', '..')

/** The page's libraries are bundled by `npm run build`; a test run straight after a checkout bundles them here. */
export function ensureWebBundle(): void {
  if (existsSync(join(root, 'reports-api/web/vendor/charts.js')) && existsSync(join(root, 'reports-api/web/vendor/editor.js'))) return
  execFileSync(process.execPath, [join(root, 'scripts/build-web.mjs')], { stdio: 'inherit' })
}

export interface WebServer {
  url: string
  store: SnapshotStore
  reportsDir: string
}

/** A real reports API on port 0 over a fresh fixture snapshot and the fixture reports (plus `reports`). */
export async function startWebServer(options: { config?: Partial<ApiConfig>; reports?: Record<string, string>; snapshot?: FixtureSnapshotOptions } = {}): Promise<WebServer> {
  ensureWebBundle()
  const { store } = await fixtureWarehouse()
  await publishFixtureSnapshot(store, options.snapshot)
  const reportsDir = await fixtureReportsDir(options.reports)
  const server = await startServer({
    snapshots: store,
    reportsDir,
    config: apiConfig({ port: 0, ...options.config }),
    logger: createLogger({ level: 'silent' }),
    metrics: createMetricsRegistry({ defaultMetrics: false }),
  })
  onTestFinished(() => server.close())
  return { url: server.url, store, reportsDir }
}

export interface WebBrowser {
  context: BrowserContext
  page: Page
  /** Requests to anything but the server: the page must make none. */
  external: string[]
  consoleErrors: string[]
  /** Paths (with query) of the API requests the page made. */
  apiCalls: string[]
}

/** Debian's chromium through playwright-core, a fresh profile per test, closed after it. */
export async function openBrowser(
  serverUrl: string,
  options: { viewport?: { width: number; height: number }; timezoneId?: string } = {},
): Promise<WebBrowser> {
  const viewport = options.viewport ?? { width: 1280, height: 900 }
  const profile = await mkdtemp(join(tmpdir(), 'coldpipe-chromium-'))
  onTestFinished(() => rm(profile, { recursive: true, force: true }))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: chromiumArgs,
    viewport,
    acceptDownloads: true,
    locale: 'en-US',
    ...(options.timezoneId ? { timezoneId: options.timezoneId } : {}),
  })
  onTestFinished(() => context.close())
  const page = context.pages()[0] ?? (await context.newPage())
  const external: string[] = []
  const consoleErrors: string[] = []
  const apiCalls: string[] = []
  page.on('request', (request) => {
    const url = request.url()
    if (url.startsWith('blob:') || url.startsWith('data:')) return
    if (!url.startsWith(serverUrl)) external.push(url)
    else if (!url.includes('/web/')) apiCalls.push(url.slice(serverUrl.length))
  })
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text())
  })
  page.on('pageerror', (error) => consoleErrors.push(`pageerror: ${error.message}`))
  return { context, page, external, consoleErrors, apiCalls }
}
