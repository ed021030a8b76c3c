import { request as httpRequest } from 'node:http'
import { describe, expect, it } from 'vitest'
import { headerList } from '../../reports-api/cache-hit-fast-path.ts'
import { testApi, type TestApi } from './api-harness.ts'

// Cache hits of GET /reports/:name are answered before fastify (reports-api/cache-hit-fast-path.ts). These tests
// go over real HTTP (app.inject calls fastify directly and never meets the fast path) and compare its answers
// with fastify's: the harness's default reportsCheckIntervalMs (0) sends every request through fastify, the
// shipped kind of interval lets hits take the fast path (and the snapshot pointer is not re-read in between, which
// would send a request through fastify too).
const checked = { reportsCheckIntervalMs: 60_000 }
const steady = { snapshotCheckIntervalMs: 60_000 }

interface Answer {
  status: number
  /** Raw header names and values in the order sent. */
  raw: string[]
  headers: Record<string, string | string[] | undefined>
  body: Buffer
}

async function listen(api: TestApi): Promise<{ get: (path: string, headers?: Record<string, string>, method?: string) => Promise<Answer>; throughFastify: () => number }> {
  let throughFastify = 0
  // Counts the answers fastify itself sends (errors too): a hit answered by the fast path never reaches this hook.
  api.app.addHook('onSend', (_request, _reply, payload, done) => {
    throughFastify++
    done(null, payload)
  })
  await api.app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = api.app.server.address() as { port: number }
  const get = (path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> =>
    new Promise((resolve, reject) => {
      httpRequest({ host: '127.0.0.1', port, path, headers, method }, (response) => {
        const parts: Buffer[] = []
        response.on('data', (chunk: Buffer) => parts.push(chunk))
        response.on('end', () => resolve({ status: response.statusCode!, raw: response.rawHeaders, headers: response.headers, body: Buffer.concat(parts) }))
        response.on('error', reject)
      })
        .on('error', reject)
        .end()
    })
  return { get, throughFastify: () => throughFastify }
}

/** Header names and values in order, without the two that differ per request. */
function comparableHeaders(answer: Answer): string[][] {
  const pairs: string[][] = []
  for (let i = 0; i < answer.raw.length; i += 2) {
    const name = answer.raw[i]!
    pairs.push(name === 'Date' || name === 'x-request-id' ? [name] : [name, answer.raw[i + 1]!])
  }
  return pairs
}

/** A JSON report body without the sources' lags, which move with the clock between two requests. */
function comparableBody(answer: Answer): unknown {
  const body = JSON.parse(answer.body.toString('utf8')) as { freshness: { lagSeconds?: number }[] }
  for (const entry of body.freshness) delete entry.lagSeconds
  return body
}

function requestLines(logs: Record<string, unknown>[], url: string): Record<string, unknown>[] {
  return logs.filter((line) => line.msg === 'request' && line.url === url)
}

describe('cache-hit fast path', () => {
  it('answers hits and 304s with the status, headers, body, log line and metrics of the fastify route', async () => {
    const fast = await testApi({ config: checked, deps: steady })
    // The same warehouse and reports folder behind a server whose every request goes through fastify.
    const plain = await testApi({ deps: { snapshots: fast.store, reportsDir: fast.reportsDir } })
    const viaFast = await listen(fast)
    const viaPlain = await listen(plain)
    const path = '/reports/top_buyers?top=5'

    const miss = await viaFast.get(path)
    expect(miss.status).toBe(200)
    expect(viaFast.throughFastify()).toBe(1)
    const hit = await viaFast.get(path)
    expect(viaFast.throughFastify()).toBe(1)
    const plainHit = await viaPlain.get(path)
    await viaPlain.get(path)
    expect(viaPlain.throughFastify()).toBe(2)
    for (const other of [miss, plainHit]) {
      expect(hit.status).toBe(other.status)
      expect(comparableHeaders(hit)).toEqual(comparableHeaders(other))
      expect(comparableBody(hit)).toEqual(comparableBody(other))
    }
    expect(hit.headers.etag).toMatch(/^W\/"/)
    expect(hit.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)

    const etag = hit.headers.etag as string
    const notModified = await viaFast.get(path, { 'if-none-match': etag })
    const plainNotModified = await viaPlain.get(path, { 'if-none-match': etag })
    expect(viaFast.throughFastify()).toBe(1)
    expect(notModified.status).toBe(304)
    expect(comparableHeaders(notModified)).toEqual(comparableHeaders(plainNotModified))
    expect(notModified.body.length).toBe(0)

    // A caller's request id is kept, as fastify's genReqId keeps it.
    const traced = await viaFast.get(path, { 'x-request-id': 'trace-42' })
    expect(traced.headers['x-request-id']).toBe('trace-42')
    expect(viaFast.throughFastify()).toBe(1)

    // One request log line per request, with the fields of fastify's: the miss's line is the reference.
    const lines = requestLines(fast.logs, path)
    expect(lines).toHaveLength(4)
    const fields = (line: Record<string, unknown>): Record<string, unknown> => {
      const { time: _time, ms, requestId, ...rest } = line
      expect(typeof ms).toBe('number')
      expect(typeof requestId).toBe('string')
      return rest
    }
    expect(Object.keys(lines[1]!)).toEqual(Object.keys(lines[0]!))
    expect(fields(lines[1]!)).toEqual(fields(lines[0]!))
    expect(lines[1]!.requestId).toBe(hit.headers['x-request-id'])
    expect(fields(lines[2]!)).toEqual({ ...fields(lines[0]!), status: 304 })
    expect(lines[3]!.requestId).toBe('trace-42')

    const metrics = (await viaFast.get('/metrics')).body.toString('utf8')
    expect(metrics).toMatch(/coldpipe_api_requests_total\{method="GET",route="\/reports\/:name",status="200",app="coldpipe"\} 3/)
    expect(metrics).toMatch(/coldpipe_api_requests_total\{method="GET",route="\/reports\/:name",status="304",app="coldpipe"\} 1/)
    expect(metrics).toMatch(/coldpipe_api_request_duration_seconds_count\{app="coldpipe",method="GET",route="\/reports\/:name"\} 4/)
    expect(metrics).toMatch(/coldpipe_report_cache_hits_total\{report="top_buyers",app="coldpipe"\} 2/)
    expect(metrics).toMatch(/coldpipe_report_cache_misses_total\{report="top_buyers",app="coldpipe"\} 1/)
  })

  it('admits as the route does: key, report access and one rate-limit token per request', async () => {
    const reader = { key: 'reader-key-00001', name: 'reader', reports: ['top_buyers'], sql: false, jobs: false }
    const other = { key: 'other-key-000001', name: 'other', reports: ['stock'], sql: false, jobs: false }
    const api = await testApi({ config: { ...checked, apiKeys: [reader, other], rateLimitPerMinute: 4 }, deps: steady })
    const via = await listen(api)
    const path = '/reports/top_buyers?top=5'
    const asReader = { 'x-api-key': reader.key }

    expect((await via.get(path, asReader)).status).toBe(200)
    expect(via.throughFastify()).toBe(1)
    // Cached now: hits of a caller allowed to run the report go the fast way...
    expect((await via.get(path, asReader)).status).toBe(200)
    expect(via.throughFastify()).toBe(1)
    // ...refusals are fastify's, with its error shape, for the very same cached result.
    const none = await via.get(path)
    expect(none.status).toBe(401)
    expect(JSON.parse(none.body.toString('utf8')).error.code).toBe('AUTH_REQUIRED')
    const wrong = await via.get(path, { 'x-api-key': 'wrong-key-000001' })
    expect(wrong.status).toBe(401)
    const forbidden = await via.get(path, { 'x-api-key': other.key })
    expect(forbidden.status).toBe(403)
    expect(JSON.parse(forbidden.body.toString('utf8')).error).toMatchObject({ code: 'AUTH_FORBIDDEN', details: { report: 'top_buyers', key: 'other' } })
    expect(via.throughFastify()).toBe(4)
    // Four tokens a minute: the miss (fast path, then fastify) spent one, not two, so two more hits pass.
    expect((await via.get(path, asReader)).status).toBe(200)
    expect((await via.get(path, asReader)).status).toBe(200)
    const limited = await via.get(path, asReader)
    expect(limited.status).toBe(429)
    expect(JSON.parse(limited.body.toString('utf8')).error.code).toBe('RATE_LIMITED')
    const lines = requestLines(api.logs, path)
    expect(lines.map((line) => [line.status, line.caller])).toEqual([
      [200, 'reader'],
      [200, 'reader'],
      [401, undefined],
      [401, undefined],
      [403, 'other'],
      [200, 'reader'],
      [200, 'reader'],
      [429, undefined],
    ])
  })

  it('answers each query string and Accept with its own result: a request checked once is reused only for the same shape', async () => {
    const fast = await testApi({ config: checked, deps: steady })
    const plain = await testApi({ deps: { snapshots: fast.store, reportsDir: fast.reportsDir } })
    const viaFast = await listen(fast)
    const viaPlain = await listen(plain)
    const requests: [string, Record<string, string>][] = [
      ['/reports/top_buyers?top=5', {}],
      ['/reports/top_buyers?top=2', {}],
      ['/reports/top_buyers?top=5', { accept: 'text/csv' }],
      ['/reports/top_buyers?top=2', { accept: 'text/csv' }],
      ['/reports/top_buyers?top=5', { 'x-coldpipe-accept-stale': 'true' }],
      ['/reports/top_buyers?top=abc', {}],
    ]
    // Twice each: the second round is answered from the checked shapes (and the cache) where it can be.
    for (const round of [1, 2]) {
      for (const [path, headers] of requests) {
        const answer = await viaFast.get(path, headers)
        const reference = await viaPlain.get(path, headers)
        const what = `round ${round}: ${path} ${JSON.stringify(headers)}`
        expect(answer.status, what).toBe(reference.status)
        expect(answer.headers['content-type'], what).toBe(reference.headers['content-type'])
        if (answer.headers['content-type']?.includes('json') && answer.status === 200) expect(comparableBody(answer), what).toEqual(comparableBody(reference))
        else expect(answer.body.toString('utf8').replace(/"requestId":"[^"]*"/, ''), what).toBe(reference.body.toString('utf8').replace(/"requestId":"[^"]*"/, ''))
      }
    }
  })

  it('leaves to fastify what the route reads differently: HEAD, streams, trailing slash, repeated reserved parameters', async () => {
    const fast = await testApi({ config: checked, deps: steady })
    const plain = await testApi({ deps: { snapshots: fast.store, reportsDir: fast.reportsDir } })
    const viaFast = await listen(fast)
    const viaPlain = await listen(plain)
    await viaFast.get('/reports/top_buyers?top=5')
    await viaPlain.get('/reports/top_buyers?top=5')
    const cases: [string, string][] = [
      ['HEAD', '/reports/top_buyers?top=5'],
      ['GET', '/reports/top_buyers/?top=5'],
      ['GET', '/reports/top_buyers?top=5&format=json&format=csv'],
      ['GET', '/reports/top_buyers?top=5&stream=true'],
      ['GET', '/reports/top%5Fbuyers?top=5'],
    ]
    for (const [method, path] of cases) {
      const before = viaFast.throughFastify()
      const answer = await viaFast.get(path, {}, method)
      const reference = await viaPlain.get(path, {}, method)
      expect(viaFast.throughFastify(), `${method} ${path}`).toBe(before + 1)
      expect(answer.status, `${method} ${path}`).toBe(reference.status)
      expect(comparableHeaders(answer).map(([name]) => name), `${method} ${path}`).toEqual(comparableHeaders(reference).map(([name]) => name))
    }
  })
})

describe('headerList', () => {
  it('lists x-request-id first, then the reply headers, content-type and content-length as fastify adds them; once per headers object and body', () => {
    const headers = { etag: 'W/"a"', 'content-type': 'application/json; charset=utf-8' }
    const body = Buffer.from('{"é":1}')
    const list = headerList(headers, body)
    expect(list).toEqual(['x-request-id', '', 'etag', 'W/"a"', 'content-type', 'application/json; charset=utf-8', 'content-length', '8'])
    // The same headers and body: the same list (the caller copies it before putting the request id in).
    expect(headerList(headers, body)).toBe(list)
    // Another body with the same headers object: its own length, not the remembered one.
    expect(headerList(headers, 'ab')).toEqual(['x-request-id', '', 'etag', 'W/"a"', 'content-type', 'application/json; charset=utf-8', 'content-length', '2'])
    // No content-type: fastify's for a string or a Buffer; a 304's empty body is 0 bytes.
    expect(headerList({ etag: 'W/"b"' }, 'é')).toEqual(['x-request-id', '', 'etag', 'W/"b"', 'content-type', 'text/plain; charset=utf-8', 'content-length', '2'])
    expect(headerList({}, Buffer.alloc(3))).toEqual(['x-request-id', '', 'content-type', 'application/octet-stream', 'content-length', '3'])
  })
})
