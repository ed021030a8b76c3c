/**
 * A whole report of N rows (default 10 M order lines) streamed as CSV through a real reports API server (its own
 * process, port 0), against DuckDB writing the same query to a CSV file, in the same run:
 *   node --import tsx bench/api-stream/stream-bench.ts [--rows 10000000] [--runs 3] [--pairs 3]
 * Per round: baselines (COPY … TO 'file.csv' on the same snapshot) then the stream (curl reading the whole
 * body over HTTP); server peak RSS from /proc/<pid>/status (VmHWM, and VmRSS polled), throughput in rows/s.
 * Two baselines: DuckDB as a user runs it (default settings), which the target is judged against, and DuckDB
 * with the settings of the server's stream instance (memory_limit api.streamMemoryLimit,
 * preserve_insertion_order off), shown beside it: the gap to that one is what moving the bytes through Node
 * and TCP costs. Targets: every run with server peak RSS ≤ 300 MB and throughput ≥ 0.8× DuckDB-to-file.
 */
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { openDatabase, quoteLiteral, type Database } from '../../core/duckdb/index.ts'
import { apiDefaults } from '../../reports-api/api-config.ts'
import { SnapshotStore } from '../../warehouse/snapshot-store.ts'
import { buildBenchSnapshot } from '../helpers/build-snapshot.ts'
import { orderLinesSql } from './order-lines-sql.ts'

function arg(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`)
  return index > 0 ? Number(process.argv[index + 1]) : fallback
}
const rows = arg('rows', 10_000_000)
const runs = arg('runs', 3)
const pairs = arg('pairs', 3)
const rssLimitMb = 300
const ratioTarget = 0.8

const reportSql = `select id, order_id, product_id, quantity, unit_price, line_total, created_at, status
from ordering.order_lines`
const report = `/*---
name: order_lines_year
title: A year of order lines
---*/
${reportSql}
`

function buildSnapshot(store: SnapshotStore): Promise<void> {
  return buildBenchSnapshot(store, {
    service: 'ordering',
    table: 'order_lines',
    rows,
    createSql: orderLinesSql(rows),
  })
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

interface Server {
  pid: number
  url: string
  stop(): Promise<void>
}

async function startServerProcess(warehouseDir: string, reportsDir: string): Promise<Server> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'stream-server.ts'), warehouseDir, reportsDir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const lines = createInterface({ input: child.stdout })
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`server exited with ${code} before listening`)))
    lines.once('line', (line) => resolve((JSON.parse(line) as { url: string }).url))
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  return {
    pid: child.pid!,
    url,
    stop: async () => {
      child.kill('SIGTERM')
      await exited
    },
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
async function cpuSeconds(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

async function memoryMb(pid: number): Promise<{ rss: number; hwm: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0)
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 }
}

/**
 * Reads the whole streamed body with curl (into /dev/null), so the client costs as little CPU as it can on a
 * small machine; its trailer (x-coldpipe-rows) and byte count are checked against DuckDB's file.
 */
function download(url: string): Promise<{ bytes: number; trailerRows: string | undefined; status: number }> {
  return new Promise((resolve, reject) => {
    const curl = spawn('curl', ['-sS', '--fail-with-body', '-D', '-', '-o', '/dev/null', '-w', 'size_download=%{size_download}\n', url], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    curl.stdout.setEncoding('utf8').on('data', (text: string) => (out += text))
    curl.once('error', reject)
    curl.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`curl exited with ${code}: ${out}`))
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(out)?.[1] ?? 0)
      const trailerRows = /^x-coldpipe-rows: (\d+)\r?$/im.exec(out)?.[1]
      const bytes = Number(/^size_download=(\d+)$/m.exec(out)?.[1] ?? -1)
      resolve({ bytes, trailerRows, status })
    })
  })
}

interface RunResult {
  defaultRowsPerS: number
  sameSettingsRowsPerS: number
  baselineRowsPerS: number
  streamRowsPerS: number
  ratio: number
  peakRssMb: number
  /** CPU seconds of the faster-CPU baseline COPY, and of the server process while streaming. */
  baselineCpuS: number
  serverCpuS: number
  bytes: number
}

const dir = await mkdtemp(join(tmpdir(), 'coldpipe-stream-bench-'))
let server: Server | undefined
try {
  const warehouseDir = join(dir, 'warehouse')
  const store = new SnapshotStore(warehouseDir)
  let start = performance.now()
  await buildSnapshot(store)
  process.stderr.write(`snapshot with ${rows.toLocaleString('en-US')} order lines built in ${((performance.now() - start) / 1000).toFixed(1)} s\n`)
  const reportsDir = join(dir, 'reports')
  await mkdir(reportsDir)
  await writeFile(join(reportsDir, 'order_lines_year.sql'), report)
  server = await startServerProcess(warehouseDir, reportsDir)
  const baselineDb = await openDatabase(store.databasePath(1), { readOnly: true })
  const sameSettingsDb = await openDatabase(store.databasePath(1), {
    readOnly: true,
    memoryLimit: apiDefaults.streamMemoryLimit,
    settings: { preserve_insertion_order: 'false' },
  })
  const toFile = async (db: Database, file: string): Promise<{ seconds: number; bytes: number; cpu: number }> => {
    const began = performance.now()
    const cpuBefore = await cpuSeconds(process.pid)
    await db.run(`COPY (\n${reportSql}\n) TO ${quoteLiteral(file)} (FORMAT csv, HEADER true)`)
    const seconds = (performance.now() - began) / 1000
    const cpu = (await cpuSeconds(process.pid)) - cpuBefore
    const bytes = (await stat(file)).size
    await rm(file)
    return { seconds, bytes, cpu }
  }
  const url = `${server.url}/reports/order_lines_year?stream=true&format=csv`
  const results: RunResult[] = []
  try {
    // The server opens its stream instance on the first download; the baselines' instances are open already.
    const warm = await download(`${url}&limit=1000`)
    if (warm.trailerRows !== '1000') throw new Error(`warm-up: expected 1000 rows, the trailer says ${warm.trailerRows}`)
    for (let run = 0; run < runs; run++) {
      // Interleaved, so the machine's noise hits every side alike; each figure is the median of `pairs` rounds.
      const samples = { defaults: [] as number[], same: [] as number[], stream: [] as number[], baselineCpu: [] as number[], serverCpu: [] as number[] }
      let polledPeak = 0
      let bytes = 0
      for (let round = 0; round < pairs; round++) {
        // Baselines: DuckDB's own CSV writer, same snapshot and query, to a file.
        const defaults = await toFile(baselineDb, join(dir, `baseline-${run}.csv`))
        const same = await toFile(sameSettingsDb, join(dir, `baseline-same-${run}.csv`))
        samples.defaults.push(defaults.seconds)
        samples.same.push(same.seconds)
        samples.baselineCpu.push(Math.min(defaults.cpu, same.cpu))

        const poller = setInterval(() => {
          memoryMb(server!.pid).then(
            (memory) => (polledPeak = Math.max(polledPeak, memory.rss)),
            () => undefined,
          )
        }, 50)
        const serverCpuBefore = await cpuSeconds(server.pid)
        start = performance.now()
        const got = await download(url)
        samples.stream.push((performance.now() - start) / 1000)
        clearInterval(poller)
        samples.serverCpu.push((await cpuSeconds(server.pid)) - serverCpuBefore)
        if (got.status !== 200) throw new Error(`GET ${url}: ${got.status}`)
        if (got.trailerRows !== String(rows)) throw new Error(`expected ${rows} rows; the trailer says ${got.trailerRows}`)
        if (got.bytes !== defaults.bytes) throw new Error(`the stream has ${got.bytes} bytes, DuckDB's file ${defaults.bytes}`)
        bytes = got.bytes
      }
      const memory = await memoryMb(server.pid)
      const baselineSeconds = median(samples.defaults)
      const streamSeconds = median(samples.stream)
      const result: RunResult = {
        defaultRowsPerS: rows / median(samples.defaults),
        sameSettingsRowsPerS: rows / median(samples.same),
        baselineRowsPerS: rows / baselineSeconds,
        streamRowsPerS: rows / streamSeconds,
        ratio: baselineSeconds / streamSeconds,
        peakRssMb: Math.max(memory.hwm, polledPeak),
        baselineCpuS: median(samples.baselineCpu),
        serverCpuS: median(samples.serverCpu),
        bytes,
      }
      results.push(result)
      process.stderr.write(`run ${run + 1}: ${JSON.stringify({ ...result, samples })}\n`)
    }
  } finally {
    baselineDb.close()
    sameSettingsDb.close()
  }

  const fmt = (value: number): string => Math.round(value).toLocaleString('en-US')
  const met = (result: RunResult): boolean => result.peakRssMb <= rssLimitMb && result.ratio >= ratioTarget
  console.log(`\n${rows.toLocaleString('en-US')} rows, ${(results[0]!.bytes / 1e6).toFixed(0)} MB of CSV per download; each run: medians of ${pairs} interleaved rounds\n`)
  console.log('| run | DuckDB → file rows/s (defaults) | DuckDB → file rows/s (stream settings) | API stream rows/s | ratio vs defaults | ratio vs stream settings | server peak RSS MB (≤ 300) | CPU s: DuckDB → file / server | met (RSS, ratio vs defaults ≥ 0.8) |')
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---|')
  results.forEach((result, i) => {
    console.log(`| ${i + 1} | ${fmt(result.defaultRowsPerS)} | ${fmt(result.sameSettingsRowsPerS)} | ${fmt(result.streamRowsPerS)} | ${(result.streamRowsPerS / result.defaultRowsPerS).toFixed(2)} | ${(result.streamRowsPerS / result.sameSettingsRowsPerS).toFixed(2)} | ${result.peakRssMb.toFixed(0)} | ${result.baselineCpuS.toFixed(1)} / ${result.serverCpuS.toFixed(1)} | ${met(result) ? 'yes' : '**no**'} |`)
  })
  const verdict = results.every(met)
  console.log(`\nverdict: ${verdict ? 'PASS' : 'FAIL'} (every run: peak RSS ≤ ${rssLimitMb} MB and throughput ≥ ${ratioTarget}× DuckDB writing the file with its default settings)`)
  process.exitCode = verdict ? 0 : 1
} finally {
  await server?.stop()
  await rm(dir, { recursive: true, force: true })
}
