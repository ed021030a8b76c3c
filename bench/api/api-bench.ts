/**
 * Reports API throughput and overhead, every ratio against a baseline measured in the same run:
 *   node --import tsx bench/api/api-bench.ts [--seconds 5]
 * - cached vs uncached report (32 connections): requests/s, p50, p99;
 * - p50 of GET /reports/x (uncached, one connection) vs the same query run directly with core/duckdb;
 * - requests/s of a cached report vs a fastify hello-world route (32 connections).
 * Each server runs as its own process (api-server-process.ts), as a user runs `coldpipe serve`; autocannon and
 * the direct DuckDB baseline run in this process.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { createRequire } from 'node:module'
import { SnapshotStore } from '../../warehouse/snapshot-store.ts'
import { buildBenchSnapshot } from '../helpers/build-snapshot.ts'

interface CannonResult {
  requests: { average: number }
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

async function cannon(url: string, connections: number): Promise<CannonResult> {
  const result = await autocannon({ url, connections, duration: seconds })
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${url}: ${result.non2xx} non-2xx and ${result.errors} errors`)
  return result
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

/** Starts one server process and resolves with its URL; registers its stop in `closers`. */
async function serverProcess(closers: (() => Promise<void> | void)[], ...args: string[]): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'api-server-process.ts'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  closers.push(async () => {
    child.kill('SIGTERM')
    await exited
  })
  for await (const line of createInterface({ input: child.stdout! })) return (JSON.parse(line) as { url: string }).url
  throw new Error(`server process ${args[0]} exited before listening`)
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
  const cached = { url: await serverProcess(closers, 'cached', warehouseDir, reportsDir) }
  const uncached = { url: await serverProcess(closers, 'uncached', warehouseDir, reportsDir) }
  const helloUrl = `${await serverProcess(closers, 'hello')}/hello`
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
    await (await fetch(`${uncached.url}${path}`)).arrayBuffer()
  }
  const until = Date.now() + seconds * 1000
  while (Date.now() < until) {
    let start = performance.now()
    await db.queryJson(sql, { top: 20, country: null })
    direct.push(performance.now() - start)
    start = performance.now()
    const res = await fetch(`${uncached.url}${path}`)
    await res.arrayBuffer()
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status}`)
    viaApi.push(performance.now() - start)
  }

  // The serial run goes first: after a 32-connection run of a slow query the server still drains queued work.
  const uncachedSerial = await cannon(`${uncached.url}${path}`, 1)
  await cannon(`${cached.url}${path}`, 4) // warm-up
  const cachedRun = await cannon(`${cached.url}${path}`, 32)
  const helloRun = await cannon(helloUrl, 32)
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
  console.log(`\nreports API benchmark (${orders} orders, ${seconds} s per run, node ${process.version})\n`)
  console.log('| run | req/s | p50 ms | p99 ms |\n|---|---:|---:|---:|')
  for (const row of rows) console.log(`| ${row.join(' | ')} |`)
  const ratios: [string, number, string, boolean][] = [
    ['p50 uncached GET /reports/x / p50 direct query (serial, interleaved)', apiP50 / directP50, '≤ 1.2', apiP50 / directP50 <= 1.2],
    ['cached report req/s / hello world req/s', cachedRun.requests.average / helloRun.requests.average, '≥ 0.5', cachedRun.requests.average / helloRun.requests.average >= 0.5],
    ['cached / uncached req/s (32 conns)', cachedRun.requests.average / uncachedRun.requests.average, 'info', true],
  ]
  console.log('\n| ratio | value | target | met |\n|---|---:|---|---|')
  for (const [name, value, target, met] of ratios) console.log(`| ${name} | ${value.toFixed(2)} | ${target} | ${met ? 'yes' : 'NO'} |`)
} finally {
  for (const close of closers.reverse()) await close()
  await rm(dir, { recursive: true, force: true })
}
