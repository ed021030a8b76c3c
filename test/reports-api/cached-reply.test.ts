import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { silentLogger } from '../../core/logger.ts'
import { createMetricsRegistry } from '../../core/metrics.ts'
import { createApiMetrics } from '../../reports-api/api-metrics.ts'
import { QueryLimiter } from '../../reports-api/query-limiter.ts'
import { ReportCatalog } from '../../reports-api/report-catalog.ts'
import { ReportService } from '../../reports-api/report-service.ts'
import { ResultCache } from '../../reports-api/result-cache.ts'
import { SnapshotPool, type SnapshotSource } from '../../reports-api/snapshot-pool.ts'
import { fixtureReportsDir, fixtureWarehouse, publishFixtureSnapshot } from '../helpers/snapshot-fixtures.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { apiConfig, testApi } from './api-harness.ts'

// The harness checks the reports folder on every request (reportsCheckIntervalMs: 0), which sends every request
// down the awaited path; these tests use the shipped kind of interval so cache hits take the synchronous one.
const checked = { reportsCheckIntervalMs: 60_000 }

/** A JSON answer with every `lagSeconds` set to 0. */
function withoutLags(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value), (key, v: unknown) => (key === 'lagSeconds' ? 0 : v))
}

function withoutRequestId(headers: Record<string, unknown>): Record<string, unknown> {
  const { 'x-request-id': _id, date: _date, ...rest } = headers
  return rest
}

/** A ReportService over `store`'s snapshots and the fixture reports, its pool closed after the test. */
async function reportServiceOver(store: SnapshotSource): Promise<{ pool: SnapshotPool; service: ReportService }> {
  const config = apiConfig(checked)
  const pool = new SnapshotPool(store, { logger: silentLogger, checkIntervalMs: 60_000 })
  onTestFinished(() => pool.close())
  const catalog = new ReportCatalog(await fixtureReportsDir(), { checkIntervalMs: 60_000, logger: silentLogger })
  await catalog.refresh(true)
  const limiter = new QueryLimiter({ name: 'reports', maxRunning: 2, maxQueued: 2, deadlineMs: 30_000, timeoutCode: 'REPORT_TIMEOUT' })
  const service = new ReportService({ catalog, pool, limiter, cache: new ResultCache(config.cacheMaxBytes), config, metrics: createApiMetrics(createMetricsRegistry({ defaultMetrics: false })) })
  return { pool, service }
}

describe('ReportService.cachedReply', () => {
  it('answers a cached result or a 304 at once, and leaves everything else to run()', async () => {
    const { store } = await fixtureWarehouse()
    await publishFixtureSnapshot(store)
    const { pool, service } = await reportServiceOver(store)
    const request = { name: 'top_buyers', query: { top: '5' } }
    await pool.current()
    // Not cached yet: nothing is answered (and no lease is left pinned).
    expect(service.cachedReply(request)).toBeUndefined()
    const computed = await service.run(request)
    const hit = service.cachedReply(request)
    expect(hit).not.toBeInstanceOf(Promise)
    // The same answer, but for the lags: a second may have passed since run() read the clock (before its query).
    const comparable = (reply: typeof computed | undefined): unknown => ({ ...reply, body: withoutLags(JSON.parse(String(reply?.body))) })
    expect(comparable(hit)).toEqual(comparable(computed))
    expect(service.cachedReply({ ...request, ifNoneMatch: computed.headers.etag })).toMatchObject({ status: 304, headers: { etag: computed.headers.etag } })
    // asOf needs the snapshot list: always the awaited path.
    expect(service.cachedReply({ ...request, query: { ...request.query, asOf: new Date().toISOString() } })).toBeUndefined()
    // Parameter errors are the ones run() gives.
    expect(() => service.cachedReply({ ...request, query: { top: 'many' } })).toThrow(expect.objectContaining({ code: 'REPORT_PARAM_INVALID' }))
    await expect(service.run({ ...request, query: { top: 'many' } })).rejects.toMatchObject({ code: 'REPORT_PARAM_INVALID' })
    // Every lease taken by the synchronous path was given back: the pool closes without waiting.
    await pool.close()
  })

  it('follows the clock on every hit: lags, the body built from them, and the staleness refusal', async () => {
    const { store } = await fixtureWarehouse()
    // Sources 3,590 s old: the stock report allows 3,600.
    const sourcesAsOf = new Date(Date.now() - 3_590_000)
    await publishFixtureSnapshot(store, { sourcesAsOf })
    const { pool, service } = await reportServiceOver(store)
    const request = { name: 'stock', query: {}, rawQuery: '' }
    await pool.current()
    const start = Date.now()
    await service.run(request)
    const lagOf = (reply: ReturnType<ReportService['cachedReply']>): number =>
      (JSON.parse(String(reply!.body)) as { freshness: { lagSeconds: number }[] }).freshness[0]!.lagSeconds
    // The clock stands still while the hits are checked: the same lag, the same prebuilt body.
    const now = vi.spyOn(Date, 'now').mockReturnValue(start)
    onTestFinished(() => now.mockRestore())
    const first = service.cachedReply(request)
    expect(service.cachedReply(request)!.body).toBe(first!.body)
    // Four seconds on: four seconds older, in a body of its own.
    now.mockReturnValue(start + 4_000)
    const later = service.cachedReply(request)
    expect(lagOf(later)).toBe(lagOf(first) + 4)
    expect(later!.body).not.toBe(first!.body)
    // Past the report's 3,600 s: refused as run() refuses it, then answered when stale data is accepted.
    now.mockReturnValue(start + 30_000)
    expect(() => service.cachedReply(request)).toThrow(expect.objectContaining({ code: 'REPORT_STALE' }))
    const stale = service.cachedReply({ ...request, acceptStaleHeader: 'true' })
    expect(stale!.headers['x-coldpipe-stale']).toBe('true')
    expect(lagOf(stale)).toBe(lagOf(first) + 30)
    // And back within the limit (a clock stepped back): the fresh answer again, without the stale header.
    now.mockReturnValue(start + 4_000)
    expect(service.cachedReply(request)!.headers['x-coldpipe-stale']).toBeUndefined()
  })
})

describe('GET /reports/:name cache hits', () => {
  it('answer what the first request got: same status, headers and body, counted as hits', async () => {
    const { app } = await testApi({ config: checked })
    for (const format of ['json', 'csv', 'parquet']) {
      const first = await app.inject(`/reports/top_buyers?top=5&format=${format}`)
      const second = await app.inject(`/reports/top_buyers?top=5&format=${format}`)
      expect(first.statusCode).toBe(200)
      expect(second.statusCode).toBe(200)
      if (format === 'json') {
        // The JSON envelope carries each source's lag as of the request's second: on a slow machine the two
        // requests may fall on either side of a second's turn, and then lags and length may differ.
        expect(withoutLags(second.json())).toEqual(withoutLags(first.json()))
        const { 'content-length': _second, ...secondHeaders } = withoutRequestId(second.headers)
        const { 'content-length': _first, ...firstHeaders } = withoutRequestId(first.headers)
        expect(secondHeaders).toEqual(firstHeaders)
      } else {
        expect(second.rawPayload.equals(first.rawPayload)).toBe(true)
        expect(withoutRequestId(second.headers)).toEqual(withoutRequestId(first.headers))
      }
      const notModified = await app.inject({ url: `/reports/top_buyers?top=5&format=${format}`, headers: { 'if-none-match': first.headers.etag as string } })
      expect(notModified.statusCode).toBe(304)
    }
    const metrics = (await app.inject('/metrics')).body
    expect(metrics).toMatch(/coldpipe_report_cache_hits_total\{report="top_buyers",app="coldpipe"\} 3/)
    expect(metrics).toMatch(/coldpipe_report_cache_misses_total\{report="top_buyers",app="coldpipe"\} 3/)
    expect(metrics).toMatch(/coldpipe_api_requests_total\{method="GET",route="\/reports\/:name",status="200",app="coldpipe"\} 6/)
    expect(metrics).toMatch(/coldpipe_api_requests_total\{method="GET",route="\/reports\/:name",status="304",app="coldpipe"\} 3/)
  })

  it('give errors the same shape, and a publish still reaches them', async () => {
    const { app, store, logs } = await testApi({ config: checked })
    await app.inject('/reports/top_buyers?top=5')
    const bad = await app.inject('/reports/top_buyers?top=5&limit=-1')
    expect(bad.statusCode).toBe(400)
    expect(bad.json().error).toMatchObject({ code: 'REPORT_PARAM_INVALID', details: { param: 'limit' } })
    const before = await app.inject('/reports/top_buyers?top=5')
    expect(logs.filter((line) => line.msg === 'request' && line.url === '/reports/top_buyers?top=5')).toHaveLength(2)
    await publishFixtureSnapshot(store)
    await waitFor(async () => (await app.inject('/reports/top_buyers?top=5')).headers['x-coldpipe-snapshot'] !== before.headers['x-coldpipe-snapshot'])
  })
})
