import { readdir } from 'node:fs/promises'
import type { IncomingMessage } from 'node:http'
import { describe, expect, it } from 'vitest'
import { streamPipeDirectory } from '../../reports-api/result-stream.ts'
import { publishFixtureSnapshot } from '../helpers/snapshot-fixtures.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { testApi } from './api-harness.ts'
import { allOrdersSql, captureResponses, duckdbReference, get, listen, openPaused, parquetAgainstOrders } from './stream-http.ts'

const rows = 25_000
/** ~200 bytes a row, 2M rows: far more than any socket or pipe buffer, so only back-pressure keeps it out of memory. */
const wideReport = {
  'wide_range.sql': `/*---
name: wide_range
title: Many wide rows
---*/
select range as id, repeat('x', 200) as pad from range(2000000)
`,
}
const keys = [
  { key: 'finance-key-0001', name: 'finance', reports: ['*'], sql: false, jobs: false },
  { key: 'other-key-000001', name: 'other', reports: ['*'], sql: false, jobs: false },
]

async function bigApi(config: Record<string, unknown> = {}) {
  const api = await testApi({ publish: false, reports: wideReport, config: { maxRows: 1000, ...config } })
  const manifest = await publishFixtureSnapshot(api.store, { orders: rows })
  const url = await listen(api.app)
  return { ...api, manifest, url }
}

/** Reads the rest of a response until its connection closes; `complete` says whether the body ended properly. */
function readToClose(res: IncomingMessage): Promise<{ complete: boolean; trailers: NodeJS.Dict<string> }> {
  return new Promise((resolve) => {
    res.once('close', () => resolve({ complete: res.complete, trailers: res.trailers }))
    res.on('error', () => undefined)
    res.resume()
  })
}

async function pipesLeft(): Promise<string[]> {
  return readdir(streamPipeDirectory())
}

describe('streamed report downloads (?stream=true)', () => {
  it('streams more rows than api.maxRows as CSV, row for row what DuckDB writes, with the count in a trailer', { timeout: 120_000 }, async () => {
    const { url, store, manifest } = await bigApi()
    const res = await get(`${url}/reports/all_orders?stream=true&format=csv`)
    expect(res.status).toBe(200)
    expect(res.complete).toBe(true)
    expect(res.headers['content-type']).toMatch(/^text\/csv/)
    expect(res.headers.trailer?.toLowerCase()).toContain('x-coldpipe-rows')
    expect(res.headers['x-coldpipe-snapshot']).toBe(String(manifest.id))
    expect(res.trailers['x-coldpipe-rows']).toBe(String(rows))
    const got = res.body.toString('utf8').split('\n')
    const want = (await duckdbReference(store.databasePath(manifest.id), 'csv')).split('\n')
    expect(got.length).toBe(rows + 2) // header, rows, trailing newline
    expect(got[0]).toBe('id,buyer_id,unit_price,big_number,created_at,status')
    for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) expect({ line: i, got: got[i] }).toEqual({ line: i, got: want[i] })
    // Independent of DuckDB's writer: every id once, in order.
    expect(got.slice(1, -1).map((line) => Number(line.split(',')[0]))).toEqual(Array.from({ length: rows }, (_, i) => i))
  })

  it('streams NDJSON (one object a line, no extra lines) and Parquet that DuckDB reads back', { timeout: 120_000 }, async () => {
    const { url, store, manifest } = await bigApi()
    const ndjson = await get(`${url}/reports/all_orders?stream=true`, { accept: 'application/x-ndjson' })
    expect(ndjson.status).toBe(200)
    expect(ndjson.headers['content-type']).toMatch(/^application\/x-ndjson/)
    expect(ndjson.trailers['x-coldpipe-rows']).toBe(String(rows))
    const lines = ndjson.body.toString('utf8').split('\n')
    expect(lines.pop()).toBe('')
    expect(lines.length).toBe(rows)
    const want = (await duckdbReference(store.databasePath(manifest.id), 'json')).split('\n')
    want.pop()
    expect(lines).toEqual(want)
    expect(lines.map((line) => (JSON.parse(line) as { id: number }).id)).toEqual(Array.from({ length: rows }, (_, i) => i))

    const parquet = await get(`${url}/reports/all_orders?stream=true&format=parquet`)
    expect(parquet.status).toBe(200)
    expect(parquet.trailers['x-coldpipe-rows']).toBe(String(rows))
    expect(await parquetAgainstOrders(store.databasePath(manifest.id), parquet.body)).toEqual({ total: BigInt(rows), missing: 0n, extra: 0n })
  })

  it('keeps JSON pages capped at api.maxRows and refuses to stream JSON', { timeout: 60_000 }, async () => {
    const { app } = await bigApi()
    const page = await app.inject('/reports/all_orders?limit=1000')
    expect(page.statusCode).toBe(200)
    expect(page.json().rows).toHaveLength(1000)
    expect(page.json().page.hasMore).toBe(true)
    const tooMany = await app.inject('/reports/all_orders?limit=1001')
    expect(tooMany.statusCode).toBe(400)
    expect(tooMany.json().error.code).toBe('REPORT_PARAM_INVALID')
    const csvPage = await app.inject('/reports/all_orders?format=csv&limit=5000')
    expect(csvPage.statusCode).toBe(400)
    const json = await app.inject('/reports/all_orders?stream=true&format=json')
    expect(json.statusCode).toBe(406)
    expect(json.json().error.code).toBe('REPORT_FORMAT_UNSUPPORTED')
    const jsonAccept = await app.inject({ url: '/reports/all_orders?stream=true', headers: { accept: 'application/json' } })
    expect(jsonAccept.statusCode).toBe(406)
    // A browser's Accept (HTML, then anything) gets CSV.
    const browser = await app.inject({ url: '/reports/all_orders?stream=true&limit=2', headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } })
    expect(browser.statusCode).toBe(200)
    expect(browser.headers['content-type']).toMatch(/^text\/csv/)
    expect(browser.body).toBe('id,buyer_id,unit_price,big_number,created_at,status\n0,0,5.00,0,2024-01-01 08:00:00,submitted\n1,1,6.25,1000000007,2024-01-01 08:37:00,paid\n')
    // limit, offset and sort still apply to a stream, beyond maxRows.
    const window = await app.inject('/reports/all_orders?stream=true&format=csv&limit=3000&offset=10&sort=-id')
    expect(window.statusCode).toBe(200)
    const ids = window.body.trim().split('\n').slice(1).map((line) => Number(line.split(',')[0]))
    expect(ids).toEqual(Array.from({ length: 3000 }, (_, i) => rows - 11 - i))
  })

  it('applies back-pressure: a client that stops reading stalls the query instead of filling server memory', { timeout: 120_000 }, async () => {
    const { app, url } = await bigApi()
    const responses = captureResponses(app)
    const res = await openPaused(`${url}/reports/wide_range?stream=true&format=csv`)
    expect(res.statusCode).toBe(200)
    const server = await waitFor(() => responses.find((r) => r.req.url?.startsWith('/reports/wide_range')))
    // Wait until the server stops making progress (the socket and pipe buffers are full), then check it stalled early.
    let last = -1
    let steady = 0
    await waitFor(
      () => {
        const written = server.socket?.bytesWritten ?? 0
        steady = written === last ? steady + 1 : 0
        last = written
        return steady >= 8
      },
      { timeoutMs: 60_000, intervalMs: 100, message: 'server kept writing to a client that does not read' },
    )
    const wholeResult = 2_000_000 * 200
    expect(last).toBeLessThan(64 * 1024 * 1024)
    expect(last).toBeLessThan(wholeResult / 4)
    expect(server.writableLength).toBeLessThan(1024 * 1024)
    expect(server.writableEnded).toBe(false)

    // Cutting the connection interrupts the query: its pipe goes away and the key's stream slot is free again.
    res.destroy()
    await waitFor(async () => (await pipesLeft()).length === 0, { timeoutMs: 30_000, message: 'the stream pipe was not removed after the client went away' })
  })

  it('stops a stream at api.streamTimeoutMs and on shutdown, instead of waiting for a client that does not read', { timeout: 120_000 }, async () => {
    const { app, url } = await bigApi({ streamTimeoutMs: 1500 })
    const stalled = await openPaused(`${url}/reports/wide_range?stream=true`)
    expect(stalled.statusCode).toBe(200)
    // The server gives up on its own: the query is stopped and its pipe removed while the client still does not read.
    await waitFor(async () => (await pipesLeft()).length === 0, { timeoutMs: 30_000, message: 'the stream did not stop at streamTimeoutMs' })
    // Once the client reads what was sent, it finds the response cut: no terminating chunk, no trailer.
    const ended = await readToClose(stalled)
    expect(ended.complete).toBe(false)
    expect(ended.trailers['x-coldpipe-rows']).toBeUndefined()

    const paused = await openPaused(`${url}/reports/wide_range?stream=true&format=ndjson`)
    expect(paused.statusCode).toBe(200)
    await waitFor(async () => (await pipesLeft()).length === 1)
    // Shutdown does not wait for the paused client: close resolves, and the stream is cut.
    await app.close()
    await waitFor(async () => (await pipesLeft()).length === 0, { timeoutMs: 30_000 })
    expect((await readToClose(paused)).complete).toBe(false)
  })

  it('limits concurrent streams per key (429 in the error shape) and frees the slot when a client disconnects', { timeout: 120_000 }, async () => {
    const { url } = await bigApi({ apiKeys: keys, maxStreamsPerKey: 2 })
    const finance = { 'x-api-key': keys[0]!.key }
    const first = await openPaused(`${url}/reports/wide_range?stream=true`, finance)
    const second = await openPaused(`${url}/reports/wide_range?stream=true`, finance)
    expect([first.statusCode, second.statusCode]).toEqual([200, 200])
    const third = await get(`${url}/reports/wide_range?stream=true`, finance)
    expect(third.status).toBe(429)
    const error = JSON.parse(third.body.toString('utf8')) as { error: { code: string; message: string; details: Record<string, unknown> } }
    expect(error.error.code).toBe('RATE_LIMITED')
    expect(error.error.details.maxStreamsPerKey).toBe(2)
    expect(third.headers['retry-after']).toBe('1')
    // Another key has its own quota; JSON pages are not streams and still answer.
    const other = await get(`${url}/reports/all_orders?stream=true&limit=10`, { 'x-api-key': keys[1]!.key })
    expect(other.status).toBe(200)
    expect(other.trailers['x-coldpipe-rows']).toBe('10')
    expect((await get(`${url}/reports/all_orders?limit=5`, finance)).status).toBe(200)

    first.destroy()
    const again = await waitFor(
      async () => {
        const attempt = await get(`${url}/reports/all_orders?stream=true&limit=10`, finance)
        return attempt.status === 200 ? attempt : undefined
      },
      { timeoutMs: 30_000, intervalMs: 200, message: 'the stream slot was not freed after the client went away' },
    )
    expect(again.trailers['x-coldpipe-rows']).toBe('10')
    second.destroy()
    await waitFor(async () => (await pipesLeft()).length === 0, { timeoutMs: 30_000 })
  })
})
