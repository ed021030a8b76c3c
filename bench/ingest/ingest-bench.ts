/**
 * Change ingest throughput vs the raw kafkajs consume rate, from the same topic on the dev broker in the
 * same run: events/s landed into committed Parquet (decode, type, Parquet, lake commit, offset commit)
 * over events/s a no-op eachBatch consumer reaches. Each side runs in a process of its own
 * (consumer-process.ts), alternating, BENCH_RUNS times over one produced topic; every run checks the
 * issue 19 targets: ratio ≥ 0.70, ingest peak RSS (VmHWM) ≤ maxBufferedBytes + 200 MB, and the buffered
 * high-water ≤ maxBufferedBytes. Run: node --import tsx bench/ingest/ingest-bench.ts
 * Options (env): BENCH_EVENTS (default 200000), BENCH_PARTITIONS (default 4), BENCH_RUNS (default 3),
 * BENCH_FLUSH_MAX_BYTES, BENCH_MAX_BUFFERED_BYTES (default: the config defaults). Each side also reports its CPU-seconds
 * split between the main thread and the others (V8 GC helpers, the libuv pool that runs DuckDB and file I/O), and the
 * dev broker's CPU-seconds while it served each side (its own process, on the same cores).
 */
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import Table from 'cli-table3'
import { Kafka, logLevel } from 'kafkajs'
import { ShopGenerator } from '../../demo/simulator/index.ts'
import { threadCpuSeconds } from '../helpers/thread-cpu.ts'

const events = Number(process.env.BENCH_EVENTS ?? 200_000)
const partitions = Number(process.env.BENCH_PARTITIONS ?? 4)
const runs = Number(process.env.BENCH_RUNS ?? 3)
const changes = {
  ...(process.env.BENCH_FLUSH_MAX_BYTES ? { flushMaxBytes: Number(process.env.BENCH_FLUSH_MAX_BYTES) } : {}),
  ...(process.env.BENCH_MAX_BUFFERED_BYTES ? { maxBufferedBytes: Number(process.env.BENCH_MAX_BUFFERED_BYTES) } : {}),
}
const rssAllowanceMb = 200

async function startBroker(): Promise<{ bootstrap: string; cpuSeconds(): number; stop(): void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./broker-process.ts', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] })
  const bootstrap = await new Promise<string>((resolve, reject) => {
    child.stdout!.once('data', (chunk: Buffer) => resolve((JSON.parse(chunk.toString()) as { bootstrap: string }).bootstrap))
    child.once('exit', (code) => reject(new Error(`broker exited with ${code}`)))
  })
  // The broker serves both sides on the same two cores: its CPU per side is part of what each side costs the machine.
  const cpuSeconds = (): number => {
    let total = 0
    for (const thread of threadCpuSeconds(child.pid!).values()) total += thread.seconds
    return total
  }
  return { bootstrap, cpuSeconds, stop: () => child.kill('SIGTERM') }
}

interface Side {
  seconds: number
  cpuSeconds: number
  rows: number
  peakRssMb: number
  maxBufferedBytes?: number
  bufferedHighWater?: number
  /** Ingest: seconds until the last record was received; the rest of `seconds` is landing what was still buffered. */
  receivedSeconds?: number
  files?: number
  pauses?: number
  /** CPU-seconds per thread over the measured window (consumer-process.ts): `main` and the others by id. */
  threads: Record<string, number>
}

/** "main / others" CPU-seconds of one side. */
function threadSplit(side: Side): string {
  let others = 0
  for (const [name, seconds] of Object.entries(side.threads)) if (name !== 'main') others += seconds
  return `${(side.threads.main ?? 0).toFixed(1)} / ${others.toFixed(1)}`
}

/** Runs one side in its own process and returns the JSON line it prints. */
async function runSide(mode: 'raw' | 'ingest', bootstrap: string, topic: string): Promise<Side> {
  const job = JSON.stringify({ mode, bootstrap, topic, events, changes })
  // BENCH_CPU_PROF=<dir>: a V8 CPU profile of each ingest process (node --cpu-prof), to see where its main thread goes.
  const profile = mode === 'ingest' && process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : []
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', fileURLToPath(new URL('./consumer-process.ts', import.meta.url)), job], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()))
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  if (code !== 0) throw new Error(`${mode} side exited with ${code}`)
  return JSON.parse(out.trim().split('\n').at(-1)!) as Side
}

const mb = (bytes: number): number => Math.round(bytes / 1024 / 1024)

const broker = await startBroker()
const kafka = new Kafka({ clientId: 'ingest-bench', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING })
const topic = `bench.ordering.public.orders-${randomUUID().slice(0, 8)}`
const admin = kafka.admin()
await admin.connect()
await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true })
await admin.disconnect()

// Realistic envelopes: the simulator's orders (Debezium JSON with schema, decimal bytes, micro timestamps).
const generator = new ShopGenerator(1, { orders: topic, catalogItems: 'unused', orderingEvents: 'unused', catalogEvents: 'unused' })
const producer = kafka.producer()
await producer.connect()
let produced = 0
let bytes = 0
let batch: { key: string; value: string; partition: number }[] = []
while (produced < events) {
  for (const message of generator.step()) {
    if (message.topic !== topic || produced >= events) continue
    batch.push({ key: message.key, value: message.value, partition: produced % partitions })
    bytes += message.value.length
    produced++
  }
  if (batch.length >= 2000 || produced >= events) {
    await producer.send({ topic, messages: batch })
    batch = []
  }
}
await producer.disconnect()
process.stderr.write(`produced ${events} envelopes (${Math.round(bytes / events)} bytes each) to ${partitions} partitions\n`)

const table = new Table({ head: ['run', 'baseline events/s (CPU-s, peak RSS MB)', 'ingest events/s (CPU-s, peak RSS MB)', 'ratio', 'buffered high-water MB', 'CPU-s main / other threads (baseline; ingest)', 'wall s (baseline; ingest: all received + tail)', 'broker CPU-s (baseline; ingest)', 'files', 'pauses', 'load (1 min)', 'met'] })
let allMet = true
for (let run = 1; run <= runs; run++) {
  const brokerBefore = broker.cpuSeconds()
  const raw = await runSide('raw', broker.bootstrap, topic)
  const brokerAfterRaw = broker.cpuSeconds()
  const landed = await runSide('ingest', broker.bootstrap, topic)
  const brokerCpu = `${(brokerAfterRaw - brokerBefore).toFixed(2)}; ${(broker.cpuSeconds() - brokerAfterRaw).toFixed(2)}`
  const rawRate = raw.rows / raw.seconds
  const ingestRate = landed.rows / landed.seconds
  const ratio = ingestRate / rawRate
  const limit = landed.maxBufferedBytes!
  const checks = [ratio >= 0.7 ? '' : 'ratio', landed.peakRssMb <= mb(limit) + rssAllowanceMb ? '' : 'RSS', landed.bufferedHighWater! <= limit ? '' : 'buffered'].filter(Boolean)
  if (landed.rows !== events) checks.push(`landed ${landed.rows}`)
  allMet &&= checks.length === 0
  table.push([
    run,
    `${Math.round(rawRate)} (${raw.cpuSeconds.toFixed(1)}, ${raw.peakRssMb})`,
    `${Math.round(ingestRate)} (${landed.cpuSeconds.toFixed(1)}, ${landed.peakRssMb})`,
    ratio.toFixed(2),
    `${mb(landed.bufferedHighWater!)} of ${mb(limit)}`,
    `${threadSplit(raw)}; ${threadSplit(landed)}`,
    `${raw.seconds.toFixed(2)}; ${landed.receivedSeconds!.toFixed(2)} + ${(landed.seconds - landed.receivedSeconds!).toFixed(2)}`,
    brokerCpu,
    landed.files,
    landed.pauses,
    readFileSync('/proc/loadavg', 'utf8').split(' ')[0],
    checks.length === 0 ? 'yes' : `no: ${checks.join(', ')}`,
  ])
}
broker.stop()
console.log(table.toString())
console.log(`targets (ratio ≥ 0.70, peak RSS ≤ maxBufferedBytes + ${rssAllowanceMb} MB, buffered ≤ maxBufferedBytes) in every run: ${allMet ? 'met' : 'NOT met'}`)
process.exit(0)
