/**
 * One side of the ingest bench in a process of its own, so each side's peak RSS (VmHWM) and CPU are its
 * own and not what producing the topic or the other side left behind. argv[2]: JSON
 * { mode: 'raw' | 'ingest', bootstrap, topic, events, changes? }. Prints one JSON line with the result.
 */
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Kafka, logLevel } from 'kafkajs'
import { silentLogger } from '../../core/logger.ts'
import { changesDefaults, startChangeIngest, type ChangesConfigInput } from '../../ingest/changes/index.ts'
import { threadCpuSeconds } from '../helpers/thread-cpu.ts'

interface Job {
  mode: 'raw' | 'ingest'
  bootstrap: string
  topic: string
  events: number
  changes?: Partial<ChangesConfigInput>
}

const job = JSON.parse(process.argv[2]!) as Job

// BENCH_TRACE=1: memory every 250 ms on stderr (where peak RSS goes: V8 heap, Buffers, the rest is DuckDB and malloc).
if (process.env.BENCH_TRACE) {
  const started = Date.now()
  setInterval(() => {
    const m = process.memoryUsage()
    const mbOf = (n: number): number => Math.round(n / 1024 / 1024)
    process.stderr.write(`${job.mode} t=${Date.now() - started}ms rss=${mbOf(m.rss)} heap=${mbOf(m.heapUsed)}/${mbOf(m.heapTotal)} arrayBuffers=${mbOf(m.arrayBuffers)}\n`)
  }, 250).unref()
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5))
}

/** CPU-seconds per thread: the main thread, and the others (libuv pool, V8 GC helpers, DuckDB) by thread id. */
function threadCpu(): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [tid, thread] of threadCpuSeconds()) if (thread.seconds > 0) out[Number(tid) === process.pid ? 'main' : `t${tid}`] = thread.seconds
  return out
}

function peakRssMb(): number {
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))
  return Math.round(Number(hwm?.[1] ?? 0) / 1024)
}

/** Wall seconds and CPU-seconds of this whole process (every thread: kafkajs, DuckDB, GC) while `work` runs. */
async function measure(work: () => Promise<void>): Promise<{ seconds: number; cpuSeconds: number; threads: Record<string, number> }> {
  const cpu = process.cpuUsage()
  const threadsBefore = threadCpu()
  const started = performance.now()
  await work()
  const used = process.cpuUsage(cpu)
  const threads = threadCpu()
  for (const name in threads) threads[name] = Math.round((threads[name]! - (threadsBefore[name] ?? 0)) * 100) / 100
  return { seconds: (performance.now() - started) / 1000, cpuSeconds: (used.user + used.system) / 1e6, threads }
}

if (job.mode === 'raw') {
  // Baseline: kafkajs with a no-op eachBatch, the fastest this client consumes this topic.
  const kafka = new Kafka({ clientId: 'ingest-bench', brokers: [job.bootstrap], logLevel: logLevel.NOTHING })
  let seen = 0
  const consumer = kafka.consumer({ groupId: `raw-${randomUUID()}`, maxBytesPerPartition: 8 * 1024 * 1024, maxBytes: 32 * 1024 * 1024, maxWaitTimeInMs: 250 })
  await consumer.connect()
  await consumer.subscribe({ topic: job.topic, fromBeginning: true })
  const result = await measure(async () => {
    await consumer.run({ autoCommit: false, partitionsConsumedConcurrently: 4, eachBatch: async ({ batch }) => void (seen += batch.messages.length) })
    await until(() => seen >= job.events)
  })
  await consumer.disconnect()
  process.stdout.write(`${JSON.stringify({ ...result, rows: seen, peakRssMb: peakRssMb() })}\n`)
} else {
  // Landed means in a committed Parquet file, and the offsets committed after it.
  const lake = await mkdtemp(join(tmpdir(), 'coldpipe-ingest-bench-'))
  let landedRows = 0
  const ingest = await startChangeIngest({
    config: {
      brokers: [job.bootstrap],
      groupId: `ingest-${randomUUID()}`,
      topics: [{ topic: job.topic, format: 'debezium', service: 'ordering', table: 'orders', key: ['id'] }],
      ...job.changes,
    },
    lakeRoot: lake,
    logger: silentLogger,
    onCommitted: (landed) => void (landedRows += landed.rows),
  })
  let receivedSeconds = 0
  const result = await measure(async () => {
    const started = performance.now()
    await until(() => landedRows >= job.events || ingest.stats().received >= job.events)
    receivedSeconds = (performance.now() - started) / 1000
    // Whatever is still buffered lands on stop (flush, lake commit, offset commit).
    await ingest.stop()
  })
  const stats = ingest.stats()
  await rm(lake, { recursive: true, force: true })
  const maxBufferedBytes = job.changes?.maxBufferedBytes ?? changesDefaults.maxBufferedBytes
  process.stdout.write(
    `${JSON.stringify({ ...result, rows: stats.rowsLanded, peakRssMb: peakRssMb(), maxBufferedBytes, receivedSeconds, bufferedHighWater: stats.bufferedBytesHighWater, files: stats.files, pauses: stats.pauses })}\n`,
  )
}
process.exit(0)
