import { request as httpRequest } from 'node:http'
import { PassThrough } from 'node:stream'
import { onTestFinished, describe, expect, it } from 'vitest'
import { createLogger } from '../../core/logger.ts'
import { createMetricsRegistry } from '../../core/metrics.ts'
import { errorDefinitions } from '../../core/errors.ts'
import { startServer, type ApiConfig } from '../../reports-api/index.ts'
import { fixtureReportsDir, fixtureWarehouse, publishFixtureSnapshot } from '../helpers/snapshot-fixtures.ts'
import { apiConfig } from './api-harness.ts'

const analyst = { key: 'analyst-key-0001', name: 'analyst', reports: ['*'], sql: true, jobs: false }

async function server(options: { config?: Partial<ApiConfig>; publish?: boolean } = {}) {
  const { store } = await fixtureWarehouse()
  if (options.publish !== false) await publishFixtureSnapshot(store)
  const running = await startServer({
    snapshots: store,
    reportsDir: await fixtureReportsDir(),
    config: apiConfig({ sqlEnabled: true, apiKeys: [analyst], ...options.config }),
    logger: createLogger({ level: 'silent', destination: new PassThrough() }),
    metrics: createMetricsRegistry({ defaultMetrics: false }),
    host: '127.0.0.1',
    port: 0,
  })
  onTestFinished(() => running.close())
  return running
}

interface RawResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

/** A plain node:http request, so nothing (fetch's URL checks, a client library) stands between the test and Node's parser. */
function raw(url: string, options: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer }): Promise<RawResponse> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, method: options.method ?? 'GET', path: options.path, headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(options.body)
  })
}

/** Every error answer: JSON content type and `{ error: { code, message, details? } }` with the code's own status. */
function expectErrorShape(response: RawResponse, status: number): string {
  expect(response.status, response.body).toBe(status)
  expect(String(response.headers['content-type'])).toMatch(/^application\/json/)
  const body = JSON.parse(response.body) as { error: { code: keyof typeof errorDefinitions; message: string; details?: unknown } }
  expect(Object.keys(body)).toEqual(['error'])
  expect(typeof body.error.message).toBe('string')
  expect(body.error.message.length).toBeGreaterThan(0)
  expect(Object.keys(body.error).every((key) => ['code', 'message', 'details'].includes(key))).toBe(true)
  expect(errorDefinitions[body.error.code].status).toBe(status)
  return body.error.code
}

describe('the one error shape, on a real server', { timeout: 120_000 }, () => {
  it('401, 404, 405, 406, 413, 429 and 431 all answer { error: { code, message } } as JSON', async () => {
    const { url } = await server({ config: { rateLimitPerMinute: 1000 } })
    const key = { 'x-api-key': analyst.key }
    expect(expectErrorShape(await raw(url, { path: '/reports/top_buyers' }), 401)).toBe('AUTH_REQUIRED')
    expect(expectErrorShape(await raw(url, { path: '/no/such/route' }), 404)).toBe('ROUTE_NOT_FOUND')
    const wrongMethod = await raw(url, { method: 'DELETE', path: '/health' })
    expect(expectErrorShape(wrongMethod, 405)).toBe('METHOD_NOT_ALLOWED')
    expect(String(wrongMethod.headers.allow)).toContain('GET')
    const getSql = await raw(url, { method: 'GET', path: '/sql', headers: key })
    expect(expectErrorShape(getSql, 405)).toBe('METHOD_NOT_ALLOWED')
    expect(String(getSql.headers.allow)).toContain('POST')
    expect(expectErrorShape(await raw(url, { path: '/reports/top_buyers?format=xml', headers: key }), 406)).toBe('REPORT_FORMAT_UNSUPPORTED')
    const huge = JSON.stringify({ sql: `select '${'x'.repeat(2 * 1024 * 1024)}'` })
    const tooLarge = await raw(url, { method: 'POST', path: '/sql', headers: { ...key, 'content-type': 'application/json' }, body: huge })
    expect(['REQUEST_TOO_LARGE', 'SQL_TOO_LARGE']).toContain(expectErrorShape(tooLarge, 413))
    // A 100 KB query string never reaches fastify: Node's HTTP parser refuses it, and still gets the shape.
    const longUrl = await raw(url, { path: `/reports/top_buyers?country=${'A'.repeat(100 * 1024)}`, headers: key })
    expect(expectErrorShape(longUrl, 431)).toBe('REQUEST_HEADERS_TOO_LARGE')
    const bigHeader = await raw(url, { path: '/health', headers: { 'x-padding': 'p'.repeat(100 * 1024) } })
    expect(expectErrorShape(bigHeader, 431)).toBe('REQUEST_HEADERS_TOO_LARGE')
    // The server is still answering after the parser errors.
    expect((await raw(url, { path: '/health' })).status).toBe(200)
  })

  it('429 and 5xx use the shape too', async () => {
    const limited = await server({ config: { rateLimitPerMinute: 2 } })
    const key = { 'x-api-key': analyst.key }
    for (let i = 0; i < 2; i++) expect((await raw(limited.url, { path: '/reports', headers: key })).status).toBe(200)
    const tooMany = await raw(limited.url, { path: '/reports', headers: key })
    expect(expectErrorShape(tooMany, 429)).toBe('RATE_LIMITED')
    expect(Number(tooMany.headers['retry-after'])).toBeGreaterThanOrEqual(1)
    const empty = await server({ publish: false })
    const unavailable = await raw(empty.url, { path: '/reports/top_buyers', headers: key })
    expect(expectErrorShape(unavailable, 503)).toBe('WAREHOUSE_NO_SNAPSHOT')
  })
})

describe('rate limits for callers without a valid key', { timeout: 120_000 }, () => {
  it('700 parallel requests with an unknown key get 429 once the address has spent its budget; other addresses and valid keys are unaffected', async () => {
    const perMinute = 50
    const { url, app } = await server({ config: { rateLimitPerMinute: perMinute } })
    const statuses = await Promise.all(
      Array.from({ length: 700 }, () => fetch(`${url}/reports/top_buyers`, { headers: { 'x-api-key': 'guessed-key-000' } }).then(async (res) => [res.status, (await res.json()) as { error: { code: string } }] as const)),
    )
    const count = (status: number) => statuses.filter(([s]) => s === status).length
    expect(count(401) + count(429)).toBe(700)
    expect(count(401)).toBeGreaterThanOrEqual(perMinute)
    // Refill during the run adds at most a few tokens; the point is that the flood ends in 429s, not 700 × 401.
    expect(count(429)).toBeGreaterThan(500)
    for (const [status, body] of statuses) expect(body.error.code).toBe(status === 429 ? 'RATE_LIMITED' : 'AUTH_REQUIRED')
    // Missing keys spend the same per-address budget (a token may have refilled meanwhile on a slow machine:
    // of a few requests at once, most are refused).
    const missing = await Promise.all(Array.from({ length: 5 }, () => fetch(`${url}/reports/top_buyers`).then((res) => res.status)))
    expect(missing.filter((status) => status === 429).length).toBeGreaterThanOrEqual(3)
    // Another client address has its own budget.
    const elsewhere = await app.inject({ url: '/reports/top_buyers', headers: { 'x-api-key': 'guessed-key-000' }, remoteAddress: '10.1.2.3' })
    expect(elsewhere.statusCode).toBe(401)
    // A valid key from the flooding address still has its own bucket.
    expect((await fetch(`${url}/reports`, { headers: { 'x-api-key': analyst.key } })).status).toBe(200)
  })

  it('keeps at most 10,000 address buckets, however many addresses call', async () => {
    const { RateLimiter, maxRateLimitBuckets } = await import('../../reports-api/access-control.ts')
    const limiter = new RateLimiter(5)
    const now = Date.now()
    for (let i = 0; i < 3 * maxRateLimitBuckets; i++) {
      const address = `unauthenticated:10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`
      for (let j = 0; j < 3; j++) limiter.take(address, now)
      expect(limiter.size).toBeLessThanOrEqual(maxRateLimitBuckets)
    }
    // A bucket kept in the map still limits: the most recent address has spent 3 of its 5 tokens.
    const last = `unauthenticated:10.${((3 * maxRateLimitBuckets - 1) >> 16) & 255}.${((3 * maxRateLimitBuckets - 1) >> 8) & 255}.${(3 * maxRateLimitBuckets - 1) & 255}`
    limiter.take(last, now)
    limiter.take(last, now)
    expect(() => limiter.take(last, now)).toThrow(/rate limit/)
  })
})
