/**
 * Diagnostic for the streamed-download benchmark: starts the stream server (stream-server.ts) `--servers`
 * times and, per download (curl to /dev/null), splits the server's CPU seconds by thread from
 * /proc/<pid>/task/<tid>/stat: `main` (Node: pipe → socket), the DuckDB threads (named `node`), the rest.
 *   node --import tsx bench/api-stream/mode-probe.ts [--rows 10000000] [--servers 4] [--downloads 2]
 *     [--per-thread] [--baseline] [--perf-stat | --strace | --perf] [--keep <dir>] [--node-args "<flags>"]
 * --perf-stat: context switches of the last download (`perf stat`); --strace: syscall counts; --perf: a
 * `perf record -g` profile in /tmp/probe/perf-<server>.data; --baseline: DuckDB → file CPU in this process.
 * The snapshot is built once into --keep (default /tmp/probe/snap-<rows>) and reused. Prints JSON lines.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { openDatabase, quoteLiteral } from '../../core/duckdb/index.ts'
import { SnapshotStore } from '../../warehouse/snapshot-store.ts'
import { buildBenchSnapshot } from '../helpers/build-snapshot.ts'
import { threadCpuSeconds } from '../helpers/thread-cpu.ts'
import { orderLinesSql } from './order-lines-sql.ts'

function arg(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`)
  return index > 0 ? process.argv[index + 1]! : fallback
}
await mkdir('/tmp/probe', { recursive: true })
const rows = Number(arg('rows', '10000000'))
const servers = Number(arg('servers', '4'))
const downloads = Number(arg('downloads', '2'))
const dir = arg('keep', `/tmp/probe/snap-${rows}`)
const nodeArgs = arg('node-args', '').split(' ').filter(Boolean)
const strace = process.argv.includes('--strace')

const reportSql = `select id, order_id, product_id, quantity, unit_price, line_total, created_at, status
from ordering.order_lines`
const warehouseDir = join(dir, 'warehouse')
const reportsDir = join(dir, 'reports')
if (!existsSync(join(dir, 'done'))) {
  await mkdir(reportsDir, { recursive: true })
  await buildBenchSnapshot(new SnapshotStore(warehouseDir), {
    service: 'ordering', table: 'order_lines', rows,
    createSql: orderLinesSql(rows),
  })
  await writeFile(join(reportsDir, 'order_lines_year.sql'), `/*---\nname: order_lines_year\ntitle: A year of order lines\n---*/\n${reportSql}\n`)
  await writeFile(join(dir, 'done'), '')
}

function group(name: string, tid: string, pid: number): string {
  if (tid === String(pid)) return 'main'
  if (/libuv|worker/i.test(name)) return 'libuv'
  if (/V8|DelayedTask/i.test(name)) return 'v8'
  return name
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (t: string) => (out += t))
    child.stderr.setEncoding('utf8').on('data', (t: string) => (out += t))
    child.once('error', reject)
    child.once('exit', () => resolve(out))
  })
}

if (process.argv.includes('--baseline')) {
  for (const [label, options] of [['defaults', {}], ['stream-settings', { memoryLimit: '128MB', settings: { preserve_insertion_order: 'false' } }]] as const) {
    const db = await openDatabase(new SnapshotStore(warehouseDir).databasePath(1), { readOnly: true, ...options })
    for (let i = 0; i < 2; i++) {
      const file = `/tmp/probe/base.csv`
      const c0 = process.cpuUsage()
      const t0 = performance.now()
      await db.run(`COPY (${reportSql}) TO ${quoteLiteral(file)} (FORMAT csv, HEADER true)`)
      const wall = (performance.now() - t0) / 1000
      const c = process.cpuUsage(c0)
      await rm(file)
      console.log(JSON.stringify({ baseline: label, wall: +wall.toFixed(2), user: +(c.user / 1e6).toFixed(2), sys: +(c.system / 1e6).toFixed(2), load: (await readFile('/proc/loadavg', 'utf8')).split(' ')[0] }))
    }
    db.close()
  }
}
for (let s = 0; s < servers; s++) {

  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', join(import.meta.dirname, 'stream-server.ts'), warehouseDir, reportsDir], { stdio: ['ignore', 'pipe', 'inherit']})
  const url = await new Promise<string>((resolve) => createInterface({ input: child.stdout }).once('line', (l) => resolve((JSON.parse(l) as { url: string }).url)))
  const pid = child.pid!
  const target = `${url}/reports/order_lines_year?stream=true&format=csv`
  await run('curl', ['-sS', '-o', '/dev/null', `${target}&limit=1000`])
  for (let d = 0; d < downloads; d++) {
    const before = threadCpuSeconds(pid)
    const perf = process.argv.includes('--perf')
    const tracer = strace && d === downloads - 1 ? spawn('strace', ['-c', '-f', '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] })
      : process.argv.includes('--perf-stat') ? spawn('perf', ['stat', '-e', 'context-switches,cpu-migrations,task-clock', '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] })
      : perf && d === downloads - 1 ? spawn('perf', ['record', '-F', '499', '-g', '-o', `/tmp/probe/perf-${s}.data`, '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] }) : undefined
    let traceOut = ''
    tracer?.stderr.setEncoding('utf8').on('data', (t: string) => (traceOut += t))
    if (tracer) await new Promise((r) => setTimeout(r, 300))
    const t0 = performance.now()
    const curlOut = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{size_download}', target])
    const wall = (performance.now() - t0) / 1000
    const after = threadCpuSeconds(pid)
    const groups: Record<string, number> = {}
    let total = 0
    for (const [tid, t] of after) {
      const delta = t.seconds - (before.get(tid)?.seconds ?? 0)
      if (delta <= 0) continue
      const g = process.argv.includes('--per-thread') ? `${group(t.name, tid, pid)}:${Number(tid) - pid}` : group(t.name, tid, pid)
      groups[g] = Math.round(((groups[g] ?? 0) + delta) * 100) / 100
      total += delta
    }
    if (tracer) {
      tracer.kill('SIGINT')
      await new Promise((r) => tracer.once('exit', r))
    }
    const load = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ')
    console.log(JSON.stringify({ server: s, download: d, wall: +wall.toFixed(2), cpu: +total.toFixed(2), groups, bytes: curlOut, load }))
    if (traceOut) console.log(traceOut.split('\n').filter((l) => /context|task-clock/.test(l)).map((l) => l.trim().split(/\s+/).slice(0, 2).join(' ')).join(' | '))
  }
  child.kill('SIGTERM')
  await new Promise((r) => child.once('exit', r))
}
