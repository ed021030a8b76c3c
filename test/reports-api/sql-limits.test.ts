import { readdirSync, readFileSync } from 'node:fs'
import { connect } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { describe, expect, it } from 'vitest'
import { isProcessAlive } from '../../reports-api/sql-worker/process-rss.ts'
import { publishFixtureSnapshot } from '../helpers/snapshot-fixtures.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { testApi } from './api-harness.ts'

const analyst = { key: 'analyst-key-0001', name: 'analyst', reports: ['*'], sql: true, jobs: false }

function post(sql: string) {
  return { method: 'POST' as const, url: '/sql', headers: { 'x-api-key': analyst.key }, payload: { sql } }
}

/** Live child processes of this (test) process, from /proc: the SQL workers of the app under test. */
function childPids(): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      // fields[0] is the state (Z: a zombie not yet reaped), fields[1] the parent pid.
      if (Number(fields[1]) === process.pid && fields[0] !== 'Z') pids.push(Number(entry))
    } catch {
      // the process ended while we looked
    }
  }
  return pids
}

interface Pools {
  reports: { running: number; queued: number; shed: number; timedOutInQueue: number }
  sql: { running: number; queued: number; shed: number; workers: { workers: number; idle: number; busy: number; killed: number; killedForTimeout: number; killedForMemory: number; killedForAbort: number } }
}

async function pools(app: FastifyInstance): Promise<Pools> {
  return (await app.inject('/ready')).json().pools as Pools
}

async function sqlApi(config: Record<string, unknown> = {}, reports?: Record<string, string>) {
  return testApi({ config: { sqlEnabled: true, apiKeys: [analyst], sqlTimeoutMs: 3000, sqlMemoryLimit: '256MB', sqlMaxConcurrent: 2, ...config }, ...(reports ? { reports } : {}) })
}

const hugeValue = "select repeat('x', 1000000000) as s"

const slowReport = `/*---
name: slow_report
title: A report that never finishes in time
---*/
select count(*) as n from range(1000000000) a, range(1000000000) b
`

/** Sends a raw HTTP request for a query over a real socket, and returns the socket. */
async function rawSqlRequest(url: string, sql: string) {
  const { port } = new URL(url)
  const socket = connect(Number(port), '127.0.0.1')
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  const body = JSON.stringify({ sql })
  socket.write(`POST /sql HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: ${analyst.key}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
  socket.on('error', () => {})
  return socket
}

describe('ad-hoc SQL limits', () => {
  it('answers the repeat() attack with SQL_TIMEOUT at its deadline, stops the worker (interrupt, else kill), and the server never holds the value', async () => {
    // The RSS ceiling is far away: only the deadline (interrupt, then SIGKILL after the grace) can stop it.
    const { app } = await sqlApi({ sqlTimeoutMs: 3000, sqlKillGraceMs: 300, sqlWorkerMaxRssBytes: 8 * 1024 * 1024 * 1024 })
    const workersBefore = childPids()
    expect(workersBefore).toHaveLength(2)
    const rssBefore = process.memoryUsage().rss
    const started = Date.now()
    const res = await app.inject(post(hugeValue))
    const elapsed = Date.now() - started
    expect(res.statusCode).toBe(504)
    expect(res.json().error).toMatchObject({ code: 'SQL_TIMEOUT', details: { timeoutMs: 3000 } })
    // The answer does not wait for the worker: timeout + 1 s, with slack for a loaded 2-core machine.
    expect(elapsed).toBeLessThan(3000 + 1000 + 3000)
    // Stopped: interrupted, and killed when the interrupt did not end it within the grace (DuckDB sometimes
    // stops the value in time, sometimes not: either way the worker is free again and the answer went out).
    const stopped = await waitFor(
      async () => {
        const { workers, running } = (await pools(app)).sql
        if (workers.killedForTimeout === 1) return 'killed'
        return running === 0 && workers.idle === 2 && workersBefore.every(isProcessAlive) ? 'interrupted' : undefined
      },
      { timeoutMs: 20_000, message: 'worker stopped' },
    )
    if (stopped === 'killed') await waitFor(() => workersBefore.filter(isProcessAlive).length === 1, { timeoutMs: 20_000, message: 'killed worker gone' })
    // The pool replaces the killed worker and serves the next query.
    await waitFor(async () => (await pools(app)).sql.workers.idle === 2, { timeoutMs: 20_000 })
    expect((await app.inject(post('select 42 as answer'))).json().rows).toEqual([{ answer: 42 }])
    expect((await pools(app)).sql.running).toBe(0)
    // The server process never saw the gigabyte: its RSS grew by far less than the value.
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(200 * 1024 * 1024)
  })

  it('kills a worker whose query outlives its deadline by the grace (none here), and replaces it', async () => {
    const { app } = await sqlApi({ sqlTimeoutMs: 1500, sqlKillGraceMs: 0, sqlWorkerMaxRssBytes: 8 * 1024 * 1024 * 1024 })
    await waitFor(async () => (await pools(app)).sql.workers.idle === 2, { timeoutMs: 30_000, message: 'workers ready' })
    const workersBefore = childPids()
    const res = await app.inject(post('select count(*) from range(10000000000) a'))
    expect(res.json().error.code).toBe('SQL_TIMEOUT')
    await waitFor(async () => (await pools(app)).sql.workers.killedForTimeout === 1, { timeoutMs: 20_000, message: 'worker killed' })
    await waitFor(() => workersBefore.filter(isProcessAlive).length === 1, { timeoutMs: 20_000, message: 'killed worker gone' })
    await waitFor(async () => (await pools(app)).sql.workers.idle === 2, { timeoutMs: 20_000, message: 'worker replaced' })
    expect((await app.inject(post('select 42 as answer'))).json().rows).toEqual([{ answer: 42 }])
  })

  it('kills a worker over sqlWorkerMaxRssBytes with 507 SQL_MEMORY_EXCEEDED, long before the deadline', async () => {
    const { app } = await sqlApi({ sqlTimeoutMs: 120_000, sqlWorkerMaxRssBytes: 384 * 1024 * 1024, sqlMemoryLimit: '4GB' })
    const rssBefore = process.memoryUsage().rss
    const res = await app.inject(post(hugeValue))
    expect(res.statusCode).toBe(507)
    expect(res.json().error.code).toBe('SQL_MEMORY_EXCEEDED')
    expect((await pools(app)).sql.workers.killedForMemory).toBe(1)
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(200 * 1024 * 1024)
    await waitFor(async () => (await app.inject(post('select 1 as one'))).statusCode === 200, { timeoutMs: 20_000 })
  })

  it('keeps named reports answering while two heavy ad-hoc queries fill the SQL pool', async () => {
    const { app } = await sqlApi({ sqlTimeoutMs: 8000, sqlKillGraceMs: 300, sqlWorkerMaxRssBytes: 8 * 1024 * 1024 * 1024, reportTimeoutMs: 5000, maxConcurrentQueries: 2 })
    const rssBefore = process.memoryUsage().rss
    const heavy = [app.inject(post(hugeValue)), app.inject(post('select count(*) from range(1000000000) a, range(1000000000) b'))]
    await waitFor(async () => (await pools(app)).sql.running === 2, { timeoutMs: 10_000 })
    // A third ad-hoc query waits in the SQL queue, not in the reports' one.
    const third = app.inject(post('select 3 as n'))
    await waitFor(async () => (await pools(app)).sql.queued === 1, { timeoutMs: 10_000 })
    for (const name of ['top_buyers', 'orders_by_day', 'stock']) {
      const report = await app.inject({ method: 'GET', url: `/reports/${name}?acceptStale=true`, headers: { 'x-api-key': analyst.key } })
      expect(report.statusCode, report.body).toBe(200)
    }
    expect((await pools(app)).sql.running).toBe(2)
    const answers = await Promise.all(heavy)
    for (const answer of answers) expect(answer.json().error.code).toBe('SQL_TIMEOUT')
    // The third one either ran once a slot freed or ran out of its own budget waiting: never a report's problem.
    expect(['SQL_TIMEOUT', undefined]).toContain((await third).json().error?.code)
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(300 * 1024 * 1024)
  })

  it('answers a named report that waited too long for a slot with REPORT_TIMEOUT at its deadline, not after queue wait + run', async () => {
    const { app } = await sqlApi({ reportTimeoutMs: 3000, maxConcurrentQueries: 1 }, { 'slow_report.sql': slowReport })
    const first = app.inject({ method: 'GET', url: '/reports/slow_report', headers: { 'x-api-key': analyst.key } })
    await waitFor(async () => (await pools(app)).reports.running === 1)
    // A second slow request (another page, so not deduplicated) queues behind the first: before, its timer
    // started only once it had the slot, so it answered after about two timeouts.
    const started = Date.now()
    const second = await app.inject({ method: 'GET', url: '/reports/slow_report?limit=5', headers: { 'x-api-key': analyst.key } })
    const elapsed = Date.now() - started
    expect(second.statusCode).toBe(504)
    expect(second.json().error).toMatchObject({ code: 'REPORT_TIMEOUT', details: { timeoutMs: 3000 } })
    expect(elapsed).toBeLessThan(3000 + 2000)
    expect((await first).json().error.code).toBe('REPORT_TIMEOUT')
    await waitFor(async () => (await pools(app)).reports.running === 0)
  })

  it('refuses a statement over sqlMaxStatementBytes with 413 SQL_TOO_LARGE in the one error shape', async () => {
    const { app } = await sqlApi({ sqlMaxStatementBytes: 1024 })
    const res = await app.inject(post(`select 1 as x /* ${'y'.repeat(2000)} */`))
    expect(res.statusCode).toBe(413)
    expect(res.json()).toEqual({ error: { code: 'SQL_TOO_LARGE', message: expect.stringContaining('sqlMaxStatementBytes'), details: { bytes: 2020, maxBytes: 1024 } } })
    // A body over the route's byte limit gets the same code and shape, before the JSON is parsed.
    const huge = await app.inject(post(`select '${'z'.repeat(20_000)}'`))
    expect(huge.statusCode).toBe(413)
    expect(huge.json().error.code).toBe('SQL_TOO_LARGE')
    expect((await app.inject(post('select 1 as x'))).statusCode).toBe(200)
  })

  it('answers the 98 KB statement of repeated /* and other pathological texts at once, without holding a slot', { timeout: 60_000 }, async () => {
    const { app } = await sqlApi({ sqlMaxStatementBytes: 256 * 1024 })
    const comment = '/*'.repeat(49_000)
    const cases: [string, string][] = [
      [comment, 'SQL_INVALID'],
      [`select 1 ${comment}`, 'SQL_INVALID'],
      [`select 1 ${'/*'.repeat(33)}${'*/'.repeat(33)}`, 'SQL_INVALID'],
      [`select 1 as x ${'/*'.repeat(32)}${'*/'.repeat(32)}`, 'OK'],
      [`select 1 as x ${'/* a */'.repeat(10_000)}`, 'OK'],
      [`select ${"'".repeat(99_999)}`, 'SQL_INVALID'],
      [`select ${'"'.repeat(99_999)}`, 'SQL_INVALID'],
      [`select ${"'a".repeat(50_000)}`, 'SQL_INVALID'],
      [`select read_${'a'.repeat(100_000)}`, 'SQL_INVALID'],
      [`select 1 from${' '.repeat(100_000)}x`, 'SQL_INVALID'],
      [`select 1${';'.repeat(100_000)} x`, 'SQL_FORBIDDEN'],
      [`select 1 ${'( '.repeat(50_000)}`, 'SQL_INVALID'],
      [`select ${'--\n'.repeat(30_000)} 1 as x`, 'OK'],
    ]
    for (const [sql, code] of cases) {
      const res = await app.inject(post(sql))
      if (code === 'OK') expect(res.statusCode, sql.slice(0, 30)).toBe(200)
      else expect(res.json().error?.code, sql.slice(0, 30)).toBe(code)
    }
    const stats = await pools(app)
    expect(stats.sql.running).toBe(0)
    expect(stats.sql.workers.killed).toBe(0)
  })

  it('cancels the query of a client that disconnects and frees its slot', async () => {
    const { app } = await sqlApi({ sqlTimeoutMs: 120_000, sqlMaxConcurrent: 1, sqlMaxQueued: 4 })
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    const running = await rawSqlRequest(url, 'select count(*) from range(1000000000) a, range(1000000000) b')
    await waitFor(async () => (await pools(app)).sql.running === 1)
    const queued = await rawSqlRequest(url, 'select 2 as two')
    await waitFor(async () => (await pools(app)).sql.queued === 1)
    queued.destroy()
    await waitFor(async () => (await pools(app)).sql.queued === 0, { message: 'queued request dropped' })
    running.destroy()
    await waitFor(async () => (await pools(app)).sql.running === 0, { timeoutMs: 20_000, message: 'slot freed' })
    // The interrupt stopped it; had the worker not answered within the grace, it would have been killed.
    expect((await pools(app)).sql.workers.busy).toBe(0)
    expect((await app.inject(post('select 7 as n'))).json().rows).toEqual([{ n: 7 }])
  })

  it('refuses several statements and sandbox escapes wrapped in query() or json_execute_serialized_sql as SQL_FORBIDDEN', async () => {
    const { app } = await sqlApi()
    const cases: [string, string][] = [
      ['select 1; select 2', 'MULTIPLE'],
      ['select 1 as a /* ; */ ; select 2', 'MULTIPLE'],
      ["select 1 as a; -- trailing\n select 'x;'", 'MULTIPLE'],
      ["select * from query('select * from read_text(''/etc/hostname'')')", 'SANDBOX'],
      ["select * from query('copy (select 1) to ''/tmp/coldpipe-query-leak.csv''')", 'SANDBOX'],
      ["select * from json_execute_serialized_sql(json_serialize_sql('select * from read_text(''/etc/hostname'')'))", 'SANDBOX'],
    ]
    for (const [sql, statement] of cases) {
      const res = await app.inject(post(sql))
      expect(res.statusCode, sql).toBe(400)
      expect(res.json().error, sql).toMatchObject({ code: 'SQL_FORBIDDEN', details: { statement } })
    }
    expect((await app.inject(post('select 1 as a;'))).statusCode).toBe(200)
  })

  it('caps what a worker sends back at sqlMaxResultBytes', async () => {
    const { app } = await sqlApi({ sqlMaxResultBytes: 4096, sqlMaxRows: 10_000 })
    const res = await app.inject(post("select range as i, repeat('x', 100) as s from range(1000)"))
    const body = res.json()
    expect(body).toMatchObject({ truncated: true, truncatedBy: 'bytes', maxResultBytes: 4096 })
    expect(body.rows.length).toBeGreaterThan(10)
    expect(body.rows.length).toBeLessThan(1000)
    expect(Buffer.byteLength(JSON.stringify(body.rows))).toBeLessThanOrEqual(4096)
    expect(body.rows[body.rows.length - 1].i).toBe(String(body.rows.length - 1))
  })

  it('moves the workers to a new snapshot, and leaves no worker process behind after close', async () => {
    const { app, store } = await sqlApi()
    const first = childPids()
    expect(first).toHaveLength(2)
    expect((await app.inject(post('select marker from coldpipe.snapshot'))).json().rows).toEqual([{ marker: 'snapshot-1' }])
    await publishFixtureSnapshot(store, { marker: 'two' })
    await waitFor(async () => (await app.inject(post('select marker from coldpipe.snapshot'))).json().rows?.[0]?.marker === 'two', { timeoutMs: 20_000 })
    await waitFor(() => first.every((pid) => !isProcessAlive(pid)), { timeoutMs: 20_000, message: 'old workers exited' })
    const second = childPids()
    expect(second).toHaveLength(2)
    await waitFor(async () => (await pools(app)).sql.workers.idle === 2)
    const metrics = (await app.inject('/metrics')).body
    expect(metrics).toMatch(/coldpipe_api_queries_running\{pool="sql"[^}]*\} 0/)
    expect(metrics).toMatch(/coldpipe_api_sql_workers\{state="idle"[^}]*\} 2/)
    await app.close()
    expect(second.filter(isProcessAlive)).toEqual([])
    expect(childPids()).toEqual([])
  })
})
