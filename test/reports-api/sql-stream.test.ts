import { readdir, readFile } from 'node:fs/promises'
import { request, type IncomingMessage } from 'node:http'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { describe, expect, it } from 'vitest'
import { quoteLiteral } from '../../core/duckdb/index.ts'
import { isProcessAlive } from '../../reports-api/sql-worker/process-rss.ts'
import { publishFixtureSnapshot } from '../helpers/snapshot-fixtures.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { testApi } from './api-harness.ts'
import { allOrdersSql, duckdbReference, listen, parquetAgainstOrders } from './stream-http.ts'

const rows = 25_000
const analyst = { key: 'analyst-key-0001', name: 'analyst', reports: ['*'], sql: true, jobs: false }
/** ~200 bytes a row, 2M rows: far more than any pipe or socket buffer, so it is mid-stream when the client stops. */
const wideSql = "select range as id, repeat('x', 200) as pad from range(2000000)"

interface Posted {
  status: number
  headers: IncomingMessage['headers']
  body: Buffer
  trailers: NodeJS.Dict<string>
  complete: boolean
}

function send(url: string, payload: Record<string, unknown>, headers: Record<string, string>, onResponse: (res: IncomingMessage) => void, onError: (error: Error) => void): void {
  const body = JSON.stringify(payload)
  const req = request(`${url}/sql`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': analyst.key, ...headers } }, onResponse)
  req.on('error', onError)
  req.end(body)
}

/** A POST /sql read to its end over real HTTP, trailers included. */
function post(url: string, payload: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Posted> {
  return new Promise((resolve, reject) =>
    send(
      url,
      payload,
      headers,
      (res) => {
        const parts: Buffer[] = []
        res.on('data', (chunk: Buffer) => parts.push(chunk))
        const done = (): void => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts), trailers: res.trailers, complete: res.complete })
        res.on('end', done)
        res.on('aborted', done)
        res.on('error', () => undefined)
      },
      reject,
    ),
  )
}

/** A POST /sql whose body is not read: the caller decides when to read or cut it. */
function postPaused(url: string, payload: Record<string, unknown>): Promise<IncomingMessage> {
  return new Promise((resolve, reject) =>
    send(
      url,
      payload,
      {},
      (res) => {
        res.pause()
        resolve(res)
      },
      reject,
    ),
  )
}

interface SqlPool {
  running: number
  queued: number
  workers: { workers: number; idle: number; busy: number; killed: number; killedForAbort: number; killedForTimeout: number }
}

async function sqlPool(app: FastifyInstance): Promise<SqlPool> {
  return (await app.inject('/ready')).json().pools.sql as SqlPool
}

async function streamApi(config: Record<string, unknown> = {}) {
  const api = await testApi({
    publish: false,
    config: { sqlEnabled: true, apiKeys: [analyst], sqlMaxRows: 100, sqlMaxConcurrent: 2, sqlTimeoutMs: 20_000, ...config },
  })
  const manifest = await publishFixtureSnapshot(api.store, { orders: rows })
  const url = await listen(api.app)
  return { ...api, manifest, url }
}

function expectSameLines(got: string[], want: string[]): void {
  expect(got.length).toBe(want.length)
  for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) expect({ line: i, got: got[i] }).toEqual({ line: i, got: want[i] })
}

/** The private folders of the workers, as user SQL can see them (allowed_directories is readable, not settable). */
async function workerFolders(url: string): Promise<string[]> {
  const res = await post(url, { sql: "select unnest(current_setting('allowed_directories')) as dir" })
  expect(res.status).toBe(200)
  const dirs = (JSON.parse(res.body.toString('utf8')) as { rows: { dir: string }[] }).rows.map((row) => row.dir)
  return dirs.filter((dir) => dir.includes('coldpipe-sql-worker-'))
}

describe('streamed /sql results (stream: true)', () => {
  it('streams more rows than sqlMaxRows as CSV and NDJSON, row for row what DuckDB writes, with the count in a trailer', { timeout: 180_000 }, async () => {
    const { url, store, manifest } = await streamApi()
    // The JSON answer stays capped.
    const capped = await post(url, { sql: allOrdersSql })
    expect(capped.status).toBe(200)
    const page = JSON.parse(capped.body.toString('utf8')) as { rows: unknown[]; truncated: boolean; truncatedBy: string }
    expect(page.rows).toHaveLength(100)
    expect(page).toMatchObject({ truncated: true, truncatedBy: 'rows' })

    const csv = await post(url, { sql: allOrdersSql, stream: true })
    expect(csv.status).toBe(200)
    expect(csv.complete).toBe(true)
    expect(csv.headers['content-type']).toMatch(/^text\/csv/)
    expect(csv.headers['x-coldpipe-snapshot']).toBe(String(manifest.id))
    expect(csv.trailers['x-coldpipe-rows']).toBe(String(rows))
    const got = csv.body.toString('utf8').split('\n')
    expect(got[0]).toBe('id,buyer_id,unit_price,big_number,created_at,status')
    expectSameLines(got, (await duckdbReference(store.databasePath(manifest.id), 'csv')).split('\n'))
    expect(got.slice(1, -1).map((line) => Number(line.split(',')[0]))).toEqual(Array.from({ length: rows }, (_, i) => i))

    // Accept picks the format when the body does not; a trailing ; is fine.
    const ndjson = await post(url, { sql: `${allOrdersSql};`, stream: true }, { accept: 'application/x-ndjson' })
    expect(ndjson.status).toBe(200)
    expect(ndjson.headers['content-type']).toMatch(/^application\/x-ndjson/)
    expect(ndjson.trailers['x-coldpipe-rows']).toBe(String(rows))
    const lines = ndjson.body.toString('utf8').split('\n')
    expectSameLines(lines, (await duckdbReference(store.databasePath(manifest.id), 'json')).split('\n'))
    expect(lines.slice(0, -1).map((line) => (JSON.parse(line) as { id: number }).id)).toEqual(Array.from({ length: rows }, (_, i) => i))
  })

  it('streams edge values as DuckDB writes them: ±infinity and BC dates, intervals, nested in lists and structs; the JSON page alike', { timeout: 120_000 }, async () => {
    const { url, store, manifest } = await streamApi()
    // PostgreSQL's infinity dates land in the lake as DuckDB's; node-api's JSON made them 5881580-07-11 and intervals objects.
    const edgeSql = `select id::integer as id, case id when 0 then 'infinity'::date when 1 then '-infinity'::date when 2 then date '0044-03-15 (BC)' else date '2024-02-29' end as d,
        case when id % 2 = 0 then 'infinity'::timestamp else timestamp '0044-03-15 (BC) 12:30:00.5' end as ts,
        interval (id) day + interval '1 year 2 months 04:05:06.5' as i, [date '-infinity', null, date '2024-01-01'] as l,
        {'d': 'infinity'::date, 'i': interval 90 minute} as s, time '24:00:00' as t
      from range(4) r(id) order by id`
    const reference = async (format: 'csv' | 'json') => (await duckdbReference(store.databasePath(manifest.id), format, edgeSql)).split('\n')
    const csv = await post(url, { sql: edgeSql, stream: true, format: 'csv' })
    expect(csv.status).toBe(200)
    expectSameLines(csv.body.toString('utf8').split('\n'), await reference('csv'))
    const ndjson = await post(url, { sql: edgeSql, stream: true, format: 'ndjson' })
    expect(ndjson.status).toBe(200)
    const want = await reference('json')
    expectSameLines(ndjson.body.toString('utf8').split('\n'), want)
    const page = JSON.parse((await post(url, { sql: edgeSql })).body.toString('utf8')) as { rows: unknown[] }
    expect(page.rows).toEqual(want.filter(Boolean).map((line) => JSON.parse(line)))
    expect(page.rows[1]).toMatchObject({ d: '-infinity', i: '1 year 2 months 1 day 04:05:06.5', l: ['-infinity', null, '2024-01-01'], s: { d: 'infinity', i: '01:30:00' } })
  })

  it('streams Parquet that DuckDB reads back, and refuses JSON streams with 406', { timeout: 120_000 }, async () => {
    const { url, store, manifest } = await streamApi()
    const parquet = await post(url, { sql: allOrdersSql, stream: true, format: 'parquet' })
    expect(parquet.status).toBe(200)
    expect(parquet.trailers['x-coldpipe-rows']).toBe(String(rows))
    expect(await parquetAgainstOrders(store.databasePath(manifest.id), parquet.body)).toEqual({ total: BigInt(rows), missing: 0n, extra: 0n })

    for (const [payload, headers] of [
      [{ sql: 'select 1', stream: true, format: 'json' }, {}],
      [{ sql: 'select 1', stream: true }, { accept: 'application/json' }],
      [{ sql: 'select 1', format: 'csv' }, {}],
    ] as const) {
      const refused = await post(url, payload, headers)
      expect(refused.status).toBe(406)
      expect(JSON.parse(refused.body.toString('utf8')).error.code).toBe('REPORT_FORMAT_UNSUPPORTED')
    }
    // The statement checks still answer with a status before anything is streamed.
    const invalid = await post(url, { sql: 'select * from no_such_table', stream: true })
    expect(invalid.status).toBe(400)
    expect(JSON.parse(invalid.body.toString('utf8')).error.code).toBe('SQL_INVALID')
    const forbidden = await post(url, { sql: "select * from read_text('/etc/hostname')", stream: true })
    expect(JSON.parse(forbidden.body.toString('utf8')).error.code).toBe('SQL_FORBIDDEN')
  })

  it('a client that disconnects mid-stream frees its worker, its SQL slot and its stream slot', { timeout: 120_000 }, async () => {
    const { app, url } = await streamApi({ maxStreamsPerKey: 1, sqlKillGraceMs: 2000 })
    const res = await postPaused(url, { sql: wideSql, stream: true })
    expect(res.statusCode).toBe(200)
    await waitFor(async () => (await sqlPool(app)).workers.busy === 1, { timeoutMs: 30_000, message: 'the stream did not take a worker' })
    expect((await sqlPool(app)).running).toBe(1)
    // Read a little, then go away while the worker is blocked on the full pipe.
    await new Promise<void>((resolve) => res.once('readable', () => resolve()))
    expect(res.read()).not.toBeNull()
    res.destroy()
    await waitFor(
      async () => {
        const pool = await sqlPool(app)
        return pool.running === 0 && pool.workers.busy === 0 && pool.workers.workers === 2
      },
      { timeoutMs: 30_000, message: 'the worker or SQL slot was not freed after the client went away' },
    )
    // The stream slot is free again: a new stream of this key runs to its end.
    const again = await waitFor(
      async () => {
        const next = await post(url, { sql: 'select range as n from range(10)', stream: true })
        return next.status === 200 ? next : undefined
      },
      { timeoutMs: 30_000, message: 'the stream slot was not released' },
    )
    expect(again.trailers['x-coldpipe-rows']).toBe('10')
  })

  it('answers 429 RATE_LIMITED past maxStreamsPerKey, and a stream outlives sqlTimeoutMs but not streamTimeoutMs', { timeout: 120_000 }, async () => {
    const { app, url } = await streamApi({ maxStreamsPerKey: 1, sqlTimeoutMs: 1000, streamTimeoutMs: 10_000, sqlKillGraceMs: 500 })
    const started = Date.now()
    const first = await postPaused(url, { sql: wideSql, stream: true })
    expect(first.statusCode).toBe(200)
    const second = await post(url, { sql: 'select 1', stream: true })
    expect(second.status).toBe(429)
    expect(JSON.parse(second.body.toString('utf8')).error).toMatchObject({ code: 'RATE_LIMITED', details: { maxStreamsPerKey: 1 } })
    // A non-stream query is not a stream: it runs on the other worker.
    expect((await post(url, { sql: 'select 42 as n' })).status).toBe(200)
    // Still running at three times sqlTimeoutMs (the client is paused, so the worker waits on the pipe)...
    await waitFor(() => Date.now() - started > 3000, { timeoutMs: 10_000 })
    expect(await sqlPool(app)).toMatchObject({ running: 1, workers: { busy: 1, killed: 0 } })
    first.on('error', () => undefined)
    // ...and cut at streamTimeoutMs: the worker is freed, the response ends without its final chunk.
    await waitFor(
      async () => {
        const pool = await sqlPool(app)
        return pool.running === 0 && pool.workers.busy === 0
      },
      { timeoutMs: 30_000, message: 'the worker was not freed at streamTimeoutMs' },
    )
    const ended = new Promise<boolean>((resolve) => first.once('close', () => resolve(first.complete)))
    first.resume()
    expect(await ended).toBe(false)
  })

  it('user SQL cannot write into, or read from, the workers\' private folders', { timeout: 120_000 }, async () => {
    const { url } = await streamApi()
    const folders = await workerFolders(url)
    expect(folders.length).toBeGreaterThanOrEqual(1)
    for (const folder of folders) {
      const target = join(folder, 'x.csv')
      for (const sql of [
        `copy (select 1) to ${quoteLiteral(target)}`,
        `select * from query(${quoteLiteral(`copy (select 1) to ${quoteLiteral(target)}`)})`,
      ]) {
        for (const stream of [false, true]) {
          const res = await post(url, { sql, stream })
          expect(res.status).toBe(400)
          expect(JSON.parse(res.body.toString('utf8')).error.code).toBe('SQL_FORBIDDEN')
        }
      }
      // Text that would close the COPY's parentheses and pick another target is not one SELECT: refused.
      const injected = await post(url, { sql: `select 1) to ${quoteLiteral(target)} (format csv); --`, stream: true })
      expect(injected.status).toBe(400)
      // Reading there finds nothing: the folder only ever holds the pipe of the worker's own running stream.
      const read = await post(url, { sql: `select * from read_csv(${quoteLiteral(target)})` })
      expect(read.status).toBeGreaterThanOrEqual(400)
      const listed = await post(url, { sql: `select count(*)::int as n from glob(${quoteLiteral(join(folder, '*'))})` })
      if (listed.status === 200) expect(JSON.parse(listed.body.toString('utf8')).rows).toEqual([{ n: 0 }])
      expect(await readdir(folder)).toEqual([])
    }
  })

  it('documents stream in the OpenAPI description of /sql and of every report', { timeout: 60_000 }, async () => {
    const { app } = await streamApi()
    const doc = (await app.inject('/docs/json')).json() as {
      paths: Record<string, { post?: { requestBody: { content: Record<string, { schema: { properties: Record<string, unknown> } }> } }; get?: { parameters: { $ref?: string }[] } }>
      components: { parameters: Record<string, { schema: { type: string } }> }
    }
    const body = doc.paths['/sql']?.post?.requestBody.content['application/json']?.schema.properties
    expect(body).toMatchObject({ stream: { type: 'boolean' }, format: { enum: ['json', 'csv', 'ndjson', 'parquet'] } })
    expect(doc.paths['/reports/all_orders']?.get?.parameters).toContainEqual({ $ref: '#/components/parameters/stream' })
    expect(doc.components.parameters.stream?.schema.type).toBe('boolean')
  })

  it('leaves no worker process and no private folder after app.close()', { timeout: 120_000 }, async () => {
    const { app, url } = await streamApi()
    const folders = await workerFolders(url)
    const done = await post(url, { sql: 'select range as n from range(1000)', stream: true, format: 'ndjson' })
    expect(done.trailers['x-coldpipe-rows']).toBe('1000')
    const stalled = await postPaused(url, { sql: wideSql, stream: true })
    stalled.on('error', () => undefined)
    await waitFor(async () => (await sqlPool(app)).workers.busy === 1, { timeoutMs: 30_000 })
    const pids = await childWorkerPids()
    expect(pids.length).toBeGreaterThanOrEqual(2)
    await app.close()
    await waitFor(() => pids.every((pid) => !isProcessAlive(pid)), { timeoutMs: 30_000, message: 'a SQL worker outlived app.close()' })
    for (const folder of folders) await expect(readdir(folder)).rejects.toMatchObject({ code: 'ENOENT' })
  })
})

/** Live child processes of this (test) process, from /proc: the SQL workers of the app under test. */
async function childWorkerPids(): Promise<number[]> {
  const pids: number[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (Number(fields[1]) === process.pid && fields[0] !== 'Z') pids.push(Number(entry))
    } catch {
      // the process ended while we looked
    }
  }
  return pids
}
