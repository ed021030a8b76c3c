// Exports vs the database's own client dump, Parquet vs parquetjs, and peak RSS as the table grows.
// Run: node --import tsx bench/exports/export-bench.ts [--rows 1000000] [--rss-rows 1000000,5000000] [--parquetjs-rows 200000] [--repeat 3]
// Throughput: baseline and coldpipe run alternately --repeat times; the medians are compared, so one noisy
// moment on a shared machine does not decide the ratio.
import { execFileSync, spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mysql from 'mysql2/promise'
import pg from 'pg'

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback
}
const rows = Number(flag('rows', '1000000'))
const rssRows = flag('rss-rows', '250000,1000000').split(',').map(Number)
const parquetjsRows = Number(flag('parquetjs-rows', '200000'))
const chunkRows = Number(flag('chunk-rows', '250000'))
const repeat = Math.max(1, Number(flag('repeat', '3')))
const pgUrl = process.env.COLDPIPE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const myUrl = process.env.COLDPIPE_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test'
const here = import.meta.dirname
const columns = 'id, customer_id, status, total, created_at, updated_at, note'

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Runs baseline and coldpipe alternately `repeat` times; medians of both, and the last coldpipe result. */
function alternate<T extends { ms: number }>(baseline: () => number, coldpipe: () => T): { baseMs: number; ours: T; oursMs: number } {
  const base: number[] = []
  const ours: T[] = []
  for (let i = 0; i < repeat; i++) {
    base.push(baseline())
    ours.push(coldpipe())
  }
  return { baseMs: median(base), ours: ours.at(-1)!, oursMs: median(ours.map((o) => o.ms)) }
}

function timed(run: () => void): number {
  const t = performance.now()
  run()
  return performance.now() - t
}

function child(kind: string, url: string, schema: string, table: string): { rows: number; ms: number; maxRssKb: number; bytes: number } {
  const lake = mkdtempSync(join(tmpdir(), 'coldpipe-bench-'))
  try {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, 'export-child.ts'), kind, url, schema, lake, table, String(chunkRows)], { encoding: 'utf8', maxBuffer: 1 << 26 })
    if (r.status !== 0) throw new Error(`export child failed: ${r.stderr}`)
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!)
    if (out.record.status !== 'committed') throw new Error(`export failed: ${JSON.stringify(out.record.error)}`)
    return { rows: out.record.rows, ms: out.ms, maxRssKb: out.maxRssKb, bytes: out.record.bytes }
  } finally {
    rmSync(lake, { recursive: true, force: true })
  }
}

async function pgTable(client: pg.Client, schema: string, table: string, n: number): Promise<void> {
  await client.query(`CREATE TABLE ${schema}.${table} (id bigint PRIMARY KEY, customer_id bigint, status text, total numeric(12,2), created_at timestamptz, updated_at timestamptz, note text)`)
  await client.query(`INSERT INTO ${schema}.${table} SELECT g, g % 50000, (ARRAY['new','paid','shipped','cancelled'])[1 + g % 4], (g % 100000) / 100.0,
    '2025-01-01'::timestamptz + g * interval '1 second', '2025-01-01'::timestamptz + g * interval '2 second', CASE WHEN g % 7 = 0 THEN NULL ELSE 'note ' || md5(g::text) END
    FROM generate_series(1, ${n}) g`)
  await client.query(`VACUUM ANALYZE ${schema}.${table}`)
}

async function parquetjsBaseline(client: pg.Client, schema: string, table: string, n: number): Promise<{ ms: number; bytes: number }> {
  // @ts-expect-error parquetjs ships no types
  const parquet = (await import('parquetjs')).default
  const sample = (await client.query(`SELECT ${columns} FROM ${schema}.${table} ORDER BY id LIMIT ${n}`)).rows
  const schemaDef = new parquet.ParquetSchema({
    id: { type: 'INT64' }, customer_id: { type: 'INT64' }, status: { type: 'UTF8' }, total: { type: 'UTF8' },
    created_at: { type: 'TIMESTAMP_MILLIS' }, updated_at: { type: 'TIMESTAMP_MILLIS' }, note: { type: 'UTF8', optional: true },
  })
  const file = join(tmpdir(), `parquetjs-${randomUUID()}.parquet`)
  const started = performance.now()
  const writer = await parquet.ParquetWriter.openFile(schemaDef, file)
  for (const row of sample) await writer.appendRow({ ...row, id: Number(row.id), customer_id: Number(row.customer_id), note: row.note ?? undefined })
  await writer.close()
  const ms = performance.now() - started
  const bytes = statSync(file).size
  rmSync(file)
  return { ms, bytes }
}

const results: string[][] = []
const pgClient = new pg.Client(pgUrl)
await pgClient.connect()
const schema = `bench_${randomUUID().slice(0, 8)}`
await pgClient.query(`CREATE SCHEMA ${schema}`)
const my = await mysql.createConnection({ uri: myUrl })
const database = `bench_${randomUUID().slice(0, 8)}`
await my.query(`CREATE DATABASE ${database}`)
try {
  console.error(`postgres: generating ${rows} rows`)
  await pgTable(pgClient, schema, 'orders', rows)
  const pgRuns = alternate(
    () => timed(() => execFileSync('psql', [pgUrl, '-qc', `\\copy (select ${columns} from ${schema}.orders) to '/dev/null' (format csv)`])),
    () => child('postgres', pgUrl, schema, 'orders'),
  )
  const psqlMs = pgRuns.baseMs
  const pgExport = { ...pgRuns.ours, ms: pgRuns.oursMs }
  const pq = await parquetjsBaseline(pgClient, schema, 'orders', Math.min(parquetjsRows, rows))
  const pqScale = rows / Math.min(parquetjsRows, rows)
  results.push(['postgres rows/s: coldpipe vs psql \\copy csv', `${Math.round(rows / (pgExport.ms / 1000))}`, `${Math.round(rows / (psqlMs / 1000))}`, (psqlMs / pgExport.ms).toFixed(2)])
  results.push([`parquet bytes: coldpipe vs parquetjs (${Math.min(parquetjsRows, rows)} rows extrapolated)`, `${pgExport.bytes}`, `${Math.round(pq.bytes * pqScale)}`, (pgExport.bytes / (pq.bytes * pqScale)).toFixed(2)])
  results.push(['write seconds: coldpipe export vs parquetjs write only (extrapolated)', (pgExport.ms / 1000).toFixed(1), ((pq.ms * pqScale) / 1000).toFixed(1), ((pq.ms * pqScale) / pgExport.ms).toFixed(2)])

  console.error(`mariadb: generating ${rows} rows`)
  await my.query(`CREATE TABLE ${database}.orders (id bigint PRIMARY KEY, customer_id bigint, status varchar(20), total decimal(12,2), created_at timestamp(6) NULL, updated_at timestamp(6) NULL, note text)`)
  await my.query(`INSERT INTO ${database}.orders SELECT seq, seq % 50000, ELT(1 + seq % 4, 'new','paid','shipped','cancelled'), (seq % 100000) / 100,
    TIMESTAMP'2025-01-01 00:00:00' + INTERVAL seq SECOND, TIMESTAMP'2025-01-01 00:00:00' + INTERVAL (2 * seq) SECOND, IF(seq % 7 = 0, NULL, concat('note ', md5(seq))) FROM seq_1_to_${rows}`)
  await my.query(`ANALYZE TABLE ${database}.orders`)
  const myRuns = alternate(
    () => timed(() => execFileSync('sh', ['-c', `mariadb -h 127.0.0.1 -u root --quick -e "select ${columns} from ${database}.orders" > /dev/null`])),
    () => child('mysql', myUrl.replace(/\/[^/]*$/, `/${database}`), '-', 'orders'),
  )
  const myBaseMs = myRuns.baseMs
  const myExport = { ...myRuns.ours, ms: myRuns.oursMs }
  results.push(['mariadb rows/s: coldpipe vs mariadb -e (tsv)', `${Math.round(rows / (myExport.ms / 1000))}`, `${Math.round(rows / (myBaseMs / 1000))}`, (myBaseMs / myExport.ms).toFixed(2)])

  const rss: string[] = []
  for (const n of rssRows) {
    const table = `rss_${n}`
    console.error(`postgres: peak RSS at ${n} rows`)
    await pgTable(pgClient, schema, table, n)
    const r = child('postgres', pgUrl, schema, table)
    rss.push(`${n}: ${(r.maxRssKb / 1024).toFixed(0)} MB`)
    results.push([`postgres export peak RSS MB at ${n} rows (target <= 512)`, (r.maxRssKb / 1024).toFixed(0), '512', (r.maxRssKb / 1024 / 512).toFixed(2)])
    await pgClient.query(`DROP TABLE ${schema}.${table}`)
  }
} finally {
  await pgClient.query(`DROP SCHEMA ${schema} CASCADE`)
  await pgClient.end()
  await my.query(`DROP DATABASE ${database}`)
  await my.end()
}

const header = ['measure', 'coldpipe', 'baseline', 'ratio']
const widths = header.map((h, i) => Math.max(h.length, ...results.map((r) => r[i]!.length)))
const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')
console.log(`rows=${rows} chunkRows=${chunkRows} repeat=${repeat} (medians) cores=${(await import('node:os')).cpus().length}`)
console.log(line(header))
console.log(widths.map((w) => '-'.repeat(w)).join('-|-'))
for (const r of results) console.log(line(r))
