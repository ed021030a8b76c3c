/**
 * Reports API throughput and overhead, every ratio against a baseline measured in the same run:
 *   node --import tsx bench/api/api-bench.ts [--seconds 5]
 * - cached vs uncached report (32 connections): requests/s, p50, p99;
 * - p50 of GET /reports/x (uncached, one connection) vs the same query run directly with core/duckdb;
 * - requests/s of a cached report vs a fastify hello-world route (32 connections; both warmed, then measured in
 *   alternating 1 s slices), and each server's CPU per request over those slices (from /proc; what the req/s
 *   ratio tends to when each server has a core to itself).
 * Each server runs as its own process (api-server-process.ts), as a user runs `coldpipe serve`; autocannon and
 * the direct DuckDB baseline run in this process.
 */
import { openSync, readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { createRequire } from 'node:module'
import http from 'node:http'
import { SnapshotStore } from '../../warehouse/snapshot-store.ts'
import { buildBenchSnapshot } from '../helpers/build-snapshot.ts'

interface CannonResult {
  requests: { average: number; total: number }
  latency: { p50: number; p99: number }
  non2xx: number
  errors: number
}
const require = createRequire(import.meta.url)
const autocannon = require('autocannon') as (options: Record<string, unknown>) => Promise<CannonResult>

const secondsArg = process.argv.indexOf('--seconds')
const seconds = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 5
const orders = 200_000

const report = `/*---
name: top_buyers
title: Top buyers
params:
  top: { type: integer, default: 20, minimum: 1, maximum: 1000 }
  country: { type: string, required: false }
columns: [buyer_id, name, country, orders, revenue]
---*/
select b.id as buyer_id, b.name, b.country, count(*) as orders, sum(o.quantity * o.unit_price) as revenue
from ordering.orders o join ordering.buyers b on b.id = o.buyer_id
where ($country is null or b.country = $country)
group by all
order by revenue desc, buyer_id
limit $top
`

function buildSnapshot(store: SnapshotStore): Promise<void> {
  return buildBenchSnapshot(store, {
    service: 'ordering',
    table: 'orders',
    rows: orders,
    createSql: `
      CREATE SCHEMA ordering;
      CREATE TABLE ordering.buyers AS SELECT range::INTEGER AS id, 'Buyer ' || range AS name, ['DE','FR','NL','US'][(range % 4) + 1] AS country FROM range(5000);
      CREATE TABLE ordering.orders AS SELECT range::BIGINT AS id, (hash(range) % 5000)::INTEGER AS buyer_id, (1 + range % 3)::INTEGER AS quantity,
        (5 + (range % 40) * 1.25)::DECIMAL(10,2) AS unit_price FROM range(${orders});`,
  })
}

async function cannon(url: string, connections: number, duration = seconds): Promise<CannonResult> {
  const result = await autocannon({ url, connections, duration })
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${url}: ${result.non2xx} non-2xx and ${result.errors} errors`)
  return result
}

// The serial requests go through node:http on one kept-alive connection, the leanest client Node has: fetch
// (undici) cost ~0.5 ms more per request here, which is the client's time, not the server's.
const serialAgent = new http.Agent({ keepAlive: true, maxSockets: 1 })
function get(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: serialAgent }, (response) => {
        response.on('data', () => undefined)
        response.on('end', () => resolve(response.statusCode ?? 0))
        response.on('error', reject)
      })
      .on('error', reject)
  })
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

/** CPU milliseconds (user, system) a process has used so far, from /proc (Linux). */
function cpuMs(pid: number): { user: number; system: number } {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  const tick = 10 // USER_HZ is 100 on Linux
  return { user: Number(fields[11]) * tick, system: Number(fields[12]) * tick }
}

interface ServerRun extends CannonResult {
  /** Server CPU per answered request, µs (user + system, and user alone): load on other cores barely moves it. */
  cpuUsPerRequest: number
  userUsPerRequest: number
}

/** One autocannon run against a server process, with the server's CPU per request over the run. */
async function measured(server: Server, path: string, connections: number, runSeconds: number): Promise<ServerRun> {
  const before = cpuMs(server.pid)
  const start = performance.now()
  const result = await cannon(`${server.url}${path}`, connections, runSeconds)
  const elapsedSeconds = (performance.now() - start) / 1000
  const after = cpuMs(server.pid)
  const requests = result.requests.total
  return {
    ...result,
    requests: { total: requests, average: requests / elapsedSeconds },
    cpuUsPerRequest: ((after.user + after.system - before.user - before.system) * 1000) / requests,
    userUsPerRequest: ((after.user - before.user) * 1000) / requests,
  }
}

/**
 * The two servers measured in alternating slices (1 s each by default, `seconds` each in all), so a change in
 * what else the machine runs hits both alike: on this shared 2-core VM the same server's CPU per request moved
 * by up to 1.5x between back-to-back 4 s runs, which one run after the other turned straight into the ratio.
 * Requests and CPU are summed over the slices; latency is the median of the slices' p50 and p99.
 */
async function alternating(a: [Server, string], b: [Server, string], connections: number): Promise<[ServerRun, ServerRun]> {
  const slices = Math.max(1, Math.round(seconds))
  const runs: [ServerRun[], ServerRun[]] = [[], []]
  for (let i = 0; i < slices; i++) {
    // Which server goes first alternates too, so neither always follows the other's run.
    const order = i % 2 === 0 ? [0, 1] : [1, 0]
    for (const which of order) {
      const [server, path] = which === 0 ? a : b
      runs[which]!.push(await measured(server, path, connections, seconds / slices))
    }
  }
  return [summed(runs[0]), summed(runs[1])]
}

function summed(runs: ServerRun[]): ServerRun {
  const total = runs.reduce((sum, run) => sum + run.requests.total, 0)
  const wall = runs.reduce((sum, run) => sum + run.requests.total / run.requests.average, 0)
  const cpu = runs.reduce((sum, run) => sum + run.cpuUsPerRequest * run.requests.total, 0)
  const user = runs.reduce((sum, run) => sum + run.userUsPerRequest * run.requests.total, 0)
  return {
    requests: { total, average: total / wall },
    latency: { p50: median(runs.map((run) => run.latency.p50)), p99: median(runs.map((run) => run.latency.p99)) },
    non2xx: 0,
    errors: 0,
    cpuUsPerRequest: cpu / total,
    userUsPerRequest: user / total,
  }
}

interface Server {
  url: string
  pid: number
}

/** Starts one server process (its stderr, the request log, to a file in `dir`); registers its stop in `closers`. */
async function serverProcess(closers: (() => Promise<void> | void)[], ...args: string[]): Promise<Server> {
  const log = openSync(join(dir, `server-${args[0]}.log`), 'w')
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'api-server-process.ts'), ...args], { stdio: ['ignore', 'pipe', log] })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  closers.push(async () => {
    child.kill('SIGTERM')
    await exited
  })
  for await (const line of createInterface({ input: child.stdout! })) return { url: (JSON.parse(line) as { url: string }).url, pid: child.pid! }
  throw new Error(`server process ${args[0]} exited before listening (see ${join(dir, `server-${args[0]}.log`)})`)
}

const dir = await mkdtemp(join(tmpdir(), 'coldpipe-api-bench-'))
const closers: (() => Promise<void> | void)[] = []
try {
  const store = new SnapshotStore(join(dir, 'warehouse'))
  await buildSnapshot(store)
  const reportsDir = join(dir, 'reports')
  const { mkdir } = await import('node:fs/promises')
  await mkdir(reportsDir)
  await writeFile(join(reportsDir, 'top_buyers.sql'), report)
  const warehouseDir = join(dir, 'warehouse')
  const cached = await serverProcess(closers, 'cached', warehouseDir, reportsDir)
  const uncached = await serverProcess(closers, 'uncached', warehouseDir, reportsDir)
  const hello = await serverProcess(closers, 'hello')
  const path = '/reports/top_buyers?top=20'

  // Direct baseline: the SQL the API runs, on the same snapshot, sequentially, through core/duckdb.
  const { db } = await store.openReadOnly()
  closers.push(() => db.close())
  const sql = `SELECT * FROM (\n${report.slice(report.indexOf('---*/') + 5).trim()}\n) AS _report LIMIT 1001 OFFSET 0`
  // Interleaved, so machine noise hits both sides alike: one direct query, then one uncached API request.
  const direct: number[] = []
  const viaApi: number[] = []
  for (let i = 0; i < 10; i++) {
    await db.queryJson(sql, { top: 20, country: null })
    await get(`${uncached.url}${path}`)
  }
  const until = Date.now() + seconds * 1000
  while (Date.now() < until) {
    let start = performance.now()
    await db.queryJson(sql, { top: 20, country: null })
    direct.push(performance.now() - start)
    start = performance.now()
    const status = await get(`${uncached.url}${path}`)
    if (status !== 200) throw new Error(`GET ${path}: ${status}`)
    viaApi.push(performance.now() - start)
  }

  // The serial run goes first: after a 32-connection run of a slow query the server still drains queued work.
  const uncachedSerial = await cannon(`${uncached.url}${path}`, 1)
  // Both warmed alike (JIT, connections), then measured in alternating slices.
  await cannon(`${cached.url}${path}`, 4)
  await cannon(`${hello.url}/hello`, 4)
  const [cachedRun, helloRun] = await alternating([cached, path], [hello, '/hello'], 32)
  const uncachedRun = await cannon(`${uncached.url}${path}`, 32)

  const directP50 = median(direct)
  const apiP50 = median(viaApi)
  const rows: [string, string, string, string][] = [
    ['cached report, 32 conns', cachedRun.requests.average.toFixed(0), String(cachedRun.latency.p50), String(cachedRun.latency.p99)],
    ['uncached report, 32 conns', uncachedRun.requests.average.toFixed(0), String(uncachedRun.latency.p50), String(uncachedRun.latency.p99)],
    ['uncached report, 1 conn', uncachedSerial.requests.average.toFixed(0), String(uncachedSerial.latency.p50), String(uncachedSerial.latency.p99)],
    ['direct core/duckdb query, serial (interleaved)', '-', directP50.toFixed(2), '-'],
    ['uncached GET /reports/x, serial (interleaved)', '-', apiP50.toFixed(2), '-'],
    ['fastify hello world, 32 conns', helloRun.requests.average.toFixed(0), String(helloRun.latency.p50), String(helloRun.latency.p99)],
  ]
  const logLevel = process.env.COLDPIPE_LOG_LEVEL ?? 'info'
  console.log(`\nreports API benchmark (${orders} orders, ${seconds} s per run, node ${process.version}, report servers log at ${logLevel}, load ${readFileSync('/proc/loadavg', 'utf8').trim()})\n`)
  console.log('| run | req/s | p50 ms | p99 ms |\n|---|---:|---:|---:|')
  for (const row of rows) console.log(`| ${row.join(' | ')} |`)
  const ratios: [string, number, string, boolean][] = [
    ['p50 uncached GET /reports/x / p50 direct query (serial, interleaved)', apiP50 / directP50, '≤ 1.2', apiP50 / directP50 <= 1.2],
    ['cached report req/s / hello world req/s', cachedRun.requests.average / helloRun.requests.average, '≥ 0.5', cachedRun.requests.average / helloRun.requests.average >= 0.5],
    ['cached / uncached req/s (32 conns)', cachedRun.requests.average / uncachedRun.requests.average, 'info', true],
    // What the req/s ratio tends to on an idle machine, where each server is bound by its own CPU.
    ['server CPU per request: hello world / cached report', helloRun.cpuUsPerRequest / cachedRun.cpuUsPerRequest, 'info', true],
  ]
  console.log('\n| ratio | value | target | met |\n|---|---:|---|---|')
  for (const [name, value, target, met] of ratios) console.log(`| ${name} | ${value.toFixed(2)} | ${target} | ${met ? 'yes' : 'NO'} |`)
  console.log('\n| server CPU per request, 32 conns | µs (user + system) | µs user |\n|---|---:|---:|')
  for (const [name, run] of [['cached report', cachedRun], ['fastify hello world', helloRun]] as const) {
    console.log(`| ${name} | ${run.cpuUsPerRequest.toFixed(1)} | ${run.userUsPerRequest.toFixed(1)} |`)
  }
} finally {
  serialAgent.destroy()
  for (const close of closers.reverse()) await close()
  await rm(dir, { recursive: true, force: true })
}
