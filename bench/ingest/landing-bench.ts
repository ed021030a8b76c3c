/**
 * What one landing of staged envelopes costs, without Kafka: the simulator's order envelopes are staged as on
 * arrival (ReceiptStaging) and landed by BatchLander into a scratch lake, one batch after the other in this
 * process. Prints CPU-milliseconds per landing (all threads, process.cpuUsage) for a full batch and for a
 * one-record batch (what a landing costs whatever its size), the DuckDB statement's share of each, then the
 * statement's parts on the full batch's staged file (parse, conversions, Parquet, RETURN_STATS, planning).
 * Run: node --import tsx bench/ingest/landing-bench.ts
 * Options (env): BENCH_ROWS (default 12200, a batch at the default flushMaxBytes), BENCH_LANDINGS (default 8).
 */
import { copyFileSync, readFileSync, rmSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDatabase, type QueryResult, type SqlParams } from '../../core/duckdb/index.ts'
import { silentLogger } from '../../core/logger.ts'
import { ShopGenerator } from '../../demo/simulator/index.ts'
import { BatchLander } from '../../ingest/changes/batch-lander.ts'
import type { ChangeTopicConfig } from '../../ingest/changes/changes-config.ts'
import { ReceiptStaging } from '../../ingest/changes/receipt-staging.ts'
import { CommitLog } from '../../lake/index.ts'

const rows = Number(process.env.BENCH_ROWS ?? 12_200)
const landings = Number(process.env.BENCH_LANDINGS ?? 8)
const topic: ChangeTopicConfig = { topic: 'bench.ordering.public.orders', format: 'debezium', service: 'ordering', table: 'orders', key: ['id'] }

const cpuMs = (since: NodeJS.CpuUsage): number => {
  const used = process.cpuUsage(since)
  return (used.user + used.system) / 1000
}
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1]!
const min = (values: number[]): number => Math.min(...values)

const generator = new ShopGenerator(1, { orders: 'orders', catalogItems: 'unused', orderingEvents: 'unused', catalogEvents: 'unused' })
const envelopes: { key: Buffer; value: Buffer }[] = []
while (envelopes.length < rows * landings + landings) {
  for (const message of generator.step()) if (message.topic === 'orders') envelopes.push({ key: Buffer.from(message.key), value: Buffer.from(message.value) })
}

const scratch = await mkdtemp(join(tmpdir(), 'coldpipe-landing-bench-'))
// Removed however the run ends (a failed statement too).
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }))
const log = await CommitLog.open(join(scratch, 'lake'), { logger: silentLogger })
const db = await openDatabase(':memory:', { errorCode: 'INGEST_FAILED', threads: 1 })

// The landing statement's CPU, and its text and staged file (kept for the parts below), seen through the connection.
let statementMs = 0
let lastStatement: { sql: string; file: string } | undefined
const queryJson = db.queryJson.bind(db)
db.queryJson = async (sql: string, params?: SqlParams): Promise<QueryResult> => {
  const file = /read_json\('([^']+)'/.exec(sql)?.[1]
  if (sql.startsWith('COPY') && file) {
    lastStatement = { sql, file: join(scratch, 'statement.ndjson') }
    copyFileSync(file, lastStatement.file)
  }
  const started = process.cpuUsage()
  try {
    return await queryJson(sql, params)
  } finally {
    statementMs += cpuMs(started)
  }
}

const lander = new BatchLander([db], log, 'landing-bench', silentLogger)
let offset = 0
async function land(size: number): Promise<{ total: number; statement: number }> {
  const staging = new ReceiptStaging(lander.decoderFor(topic.topic))
  for (let i = 0; i < size; i++, offset++) {
    const { key, value } = envelopes[offset]!
    staging.add({ topic: topic.topic, partition: 0, offset: String(offset), key, value, headers: {}, timestamp: String(1_796_088_109_545 + offset) })
  }
  statementMs = 0
  const started = process.cpuUsage()
  await lander.land(topic, 0, staging.records, staging.staged())
  return { total: cpuMs(started), statement: statementMs }
}

const report = (label: string, runs: { total: number; statement: number }[]): void => {
  const tail = runs.slice(1) // the first landing of a process pays for cold caches and lazily loaded code
  console.log(
    `${label}: first ${runs[0]!.total.toFixed(1)} ms; then median ${median(tail.map((r) => r.total)).toFixed(1)} (min ${min(tail.map((r) => r.total)).toFixed(1)}) ms CPU per landing, of which the statement ${median(tail.map((r) => r.statement)).toFixed(1)}`,
  )
}

const full: { total: number; statement: number }[] = []
for (let i = 0; i < landings; i++) full.push(await land(rows))
// Kept apart: the one-envelope landings below stage over the same scratch name.
const statement = { sql: lastStatement!.sql, file: join(scratch, 'full.ndjson') }
copyFileSync(lastStatement!.file, statement.file)
report(`${rows} envelopes`, full)
const single: { total: number; statement: number }[] = []
for (let i = 0; i < landings; i++) single.push(await land(1))
report('1 envelope', single)

// The statement's parts, on the last full batch's staged file, alternating (min and median of 12 runs each).
const sql = statement.sql.replace(/read_json\('[^']+'/, `read_json('${statement.file}'`).replace(/ TO '[^']+'/, ` TO '${join(scratch, 'out.parquet')}'`)
const select = sql.slice('COPY ('.length, sql.lastIndexOf(') TO '))
const readJson = /read_json\(.*\)\) WHERE/.exec(sql)![0].slice(0, -' WHERE'.length - 1)
const selectList = select.slice(0, select.indexOf(' FROM (SELECT p, '))
const outputs = [...selectList.matchAll(/ AS ("?[A-Za-z_]+"?)(?=, |$)/g)].map((m) => m[1]!)
const parts: Record<string, string> = {
  'whole statement': sql,
  'without RETURN_STATS': sql.replace(', RETURN_STATS', ''),
  'read_json only (parse, STRUCTs)': `SELECT count(*) FROM ${readJson} WHERE p IS NOT NULL`,
  'planning only (EXPLAIN)': `EXPLAIN ${sql}`,
  // Every output column tested, so that no conversion is pruned away.
  'conversions, no Parquet': `SELECT count(*) FROM (${select}) WHERE NOT (${outputs.map((name) => `${name} IS NULL`).join(' AND ')})`,
}
const times = new Map<string, number[]>()
for (const text of Object.values(parts)) await queryJson(text)
for (let i = 0; i < 12; i++) {
  for (const [label, text] of Object.entries(parts)) {
    const started = process.cpuUsage()
    await queryJson(text)
    times.set(label, [...(times.get(label) ?? []), cpuMs(started)])
  }
}
console.log(`statement parts on ${rows} staged envelopes (${(readFileSync(statement.file).length / 1e6).toFixed(1)} MB), CPU ms, min / median:`)
for (const [label, values] of times) console.log(`  ${label.padEnd(34)} ${min(values).toFixed(1)} / ${median(values).toFixed(1)}`)

db.close()
process.exit(0)
