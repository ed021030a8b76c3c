/**
 * Change ingest throughput vs the raw kafkajs consume rate, from the same topic on the dev broker in the
 * same run: events/s landed into committed Parquet (decode, type, Parquet, lake commit, offset commit)
 * over events/s a no-op eachBatch consumer reaches. Run: node --import tsx bench/ingest/ingest-bench.ts
 * Options (env): BENCH_EVENTS (default 200000), BENCH_PARTITIONS (default 4), BENCH_FLUSH_MAX_BYTES
 * (default: the config default).
 */
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Table from 'cli-table3'
import { Kafka, logLevel } from 'kafkajs'
import { silentLogger } from '../../core/logger.ts'
import { ShopGenerator } from '../../demo/simulator/index.ts'
import { startChangeIngest } from '../../ingest/changes/index.ts'

const events = Number(process.env.BENCH_EVENTS ?? 200_000)
const partitions = Number(process.env.BENCH_PARTITIONS ?? 4)
const flushMaxBytes = process.env.BENCH_FLUSH_MAX_BYTES ? { flushMaxBytes: Number(process.env.BENCH_FLUSH_MAX_BYTES) } : {}

async function startBroker(): Promise<{ bootstrap: string; stop(): void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./broker-process.ts', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] })
  const bootstrap = await new Promise<string>((resolve, reject) => {
    child.stdout!.once('data', (chunk: Buffer) => resolve((JSON.parse(chunk.toString()) as { bootstrap: string }).bootstrap))
    child.once('exit', (code) => reject(new Error(`broker exited with ${code}`)))
  })
  return { bootstrap, stop: () => child.kill('SIGTERM') }
}

/** Samples RSS while `work` runs; returns its duration and the peak. */
async function measure(work: () => Promise<void>): Promise<{ seconds: number; peakRssMb: number }> {
  let peak = process.memoryUsage().rss
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20)
  const started = performance.now()
  await work()
  const seconds = (performance.now() - started) / 1000
  clearInterval(sampler)
  return { seconds, peakRssMb: Math.round(Math.max(peak, process.memoryUsage().rss) / 1024 / 1024) }
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5))
}

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

// Baseline: kafkajs with a no-op eachBatch, the fastest this client consumes this topic.
let rawSeen = 0
const rawConsumer = kafka.consumer({ groupId: `raw-${randomUUID()}`, maxBytesPerPartition: 8 * 1024 * 1024, maxBytes: 32 * 1024 * 1024, maxWaitTimeInMs: 250 })
await rawConsumer.connect()
await rawConsumer.subscribe({ topic, fromBeginning: true })
const raw = await measure(async () => {
  await rawConsumer.run({ autoCommit: false, partitionsConsumedConcurrently: 4, eachBatch: async ({ batch }) => void (rawSeen += batch.messages.length) })
  await until(() => rawSeen >= events)
})
await rawConsumer.disconnect()

// Change ingest: landed means in a committed Parquet file, and the offsets committed after it.
const lake = await mkdtemp(join(tmpdir(), 'coldpipe-ingest-bench-'))
let landedRows = 0
const ingest = await startChangeIngest({
  config: { brokers: [broker.bootstrap], groupId: `ingest-${randomUUID()}`, topics: [{ topic, format: 'debezium', service: 'ordering', table: 'orders', key: ['id'] }], ...flushMaxBytes },
  lakeRoot: lake,
  logger: silentLogger,
  onCommitted: (landed) => void (landedRows += landed.rows),
})
const landed = await measure(async () => {
  await until(() => landedRows >= events || ingest.stats().received >= events)
  // Whatever is still buffered lands on stop (flush, lake commit, offset commit).
  await ingest.stop()
})
const stats = ingest.stats()
await rm(lake, { recursive: true, force: true })
broker.stop()

const rawRate = events / raw.seconds
const ingestRate = stats.rowsLanded / landed.seconds
const table = new Table({ head: ['run', 'events', 'seconds', 'events/s', 'ratio vs raw', 'peak RSS MB'] })
table.push(
  ['kafkajs no-op eachBatch (baseline)', events, raw.seconds.toFixed(2), Math.round(rawRate), '1.00', raw.peakRssMb],
  ['change ingest → committed Parquet', stats.rowsLanded, landed.seconds.toFixed(2), Math.round(ingestRate), (ingestRate / rawRate).toFixed(2), landed.peakRssMb],
)
console.log(table.toString())
console.log(`files: ${stats.files}, flushes: ${stats.flushes}, pauses: ${stats.pauses}, buffered high-water: ${Math.round(stats.bufferedBytesHighWater / 1024 / 1024)} MB, target ratio ≥ 0.70: ${ingestRate / rawRate >= 0.7 ? 'met' : 'NOT met'}`)
process.exit(0)
