/**
 * Reconciling a big Postgres table with one changed row, against reading the whole table once:
 *   node --import tsx bench/reconcile/reconcile-bench.ts [--rows 10000000] [--runs 3] [--url postgres://postgres@127.0.0.1:5432/test] [--state DIR]
 * With `--state DIR` the table, lake and warehouse are built once into DIR (and the schema kept), and later runs
 * with the same DIR only time: the 10M-row setup can run outside the benchmark lock (`--setup-only`). `--cold`
 * drops the warehouse side's kept segment checksums before every run.
 * Builds a table of `--rows` rows, exports and publishes it through the real export and publish path, changes
 * one row, then alternates `--runs` times: `psql \copy (select …) to /dev/null` (the full scan a copy tool does)
 * and `reconcile` of the table. Prints each run's seconds, the rows the reconciliation read from the source
 * (rows and keys fetched, and aggregate rows, next to the table's size) and the ratios.
 * Target: the changed key found, < 0.1 % of the rows transferred, reconcile time <= 1.5x the full scan.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { createExporter } from '../../ingest/export/index.ts'
import { sourceDefaults } from '../../ingest/export/export-config.ts'
import { publish } from '../../warehouse/index.ts'
import { warehouseDefaults, type WarehouseConfig } from '../../warehouse/warehouse-config.ts'
import { reconcile } from '../../warehouse/reconcile/index.ts'
import { cacheDir } from '../../warehouse/reconcile/segment-cache.ts'

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1]! : fallback
}
const rows = Number(arg('rows', '10000000'))
const runs = Number(arg('runs', '3'))
const url = arg('url', 'postgres://postgres@127.0.0.1:5432/test')
const stateDir = process.argv.includes('--state') ? arg('state', '') : undefined
const setupOnly = process.argv.includes('--setup-only')
// The warehouse side's segment checksums are kept per table state (segment-cache.ts): `--cold` drops them before
// every run, as for the first reconciliation after a publish that changed the table.
const cold = process.argv.includes('--cold')
const saved = stateDir && existsSync(join(stateDir, 'state.json')) ? (JSON.parse(await readFile(join(stateDir, 'state.json'), 'utf8')) as { schema: string; rows: number }) : undefined
if (saved && saved.rows !== rows) throw new Error(`${stateDir} holds ${saved.rows} rows, not ${rows}`)
const schema = saved?.schema ?? `bench_reconcile_${process.pid}`
const changedId = Math.floor(rows * 0.61803)
const run = promisify(execFile)

const seconds = (ms: number): string => (ms / 1000).toFixed(2)
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const client = new pg.Client(url)
await client.connect()
const root = stateDir ?? (await mkdtemp(join(tmpdir(), 'coldpipe-reconcile-bench-')))
const load = (): string => loadavg()[0]!.toFixed(1)
try {
  const sources = { shop: { ...sourceDefaults, kind: 'postgres' as const, url, schema } }
  const exports = [{ source: 'shop', timezone: 'UTC', tables: [{ name: 'orders', mode: 'full' as const, key: ['id'], lagSeconds: 0, chunkRows: 1_000_000 }] }]
  const warehouse: WarehouseConfig = { ...warehouseDefaults, path: join(root, 'wh'), pii: [], softDeletes: false }
  if (!saved) await setup()
  if (setupOnly) process.exit(0)

  const scans: number[] = []
  const checks: number[] = []
  const loads: string[] = []
  let last: Awaited<ReturnType<typeof reconcile>>['results'][number] | undefined
  for (let i = 0; i < runs; i++) {
    loads.push(load())
    const s = Date.now()
    // The same columns the export reads, as text, the way a copy tool reads a table.
    await run('psql', [url, '-X', '-q', '-c', `\\copy (SELECT id, customer_id, status, total, note, created_at FROM ${schema}.orders) TO '/dev/null'`])
    scans.push(Date.now() - s)
    if (cold) await rm(cacheDir(warehouse.path), { recursive: true, force: true })
    const c = Date.now()
    const result = await reconcile({ sources, exports, warehouse, reconcile: { lagSeconds: 0 } })
    checks.push(Date.now() - c)
    last = result.results[0]!
    console.error(`run ${i + 1} (load ${loads.at(-1)} → ${load()}): full scan ${seconds(scans.at(-1)!)} s, reconcile ${seconds(checks.at(-1)!)} s, ratio ${(checks.at(-1)! / scans.at(-1)!).toFixed(2)} (${last.status}; ${JSON.stringify(last.different)})`)
  }
  const found = last!.different.length === 1 && last!.different[0]!.key.id === String(changedId) && last!.missingCount + last!.extraCount === 0
  const fetched = last!.transfer.sourceRowsFetched + last!.transfer.sourceKeysFetched
  const aggregates = last!.transfer.sourceAggregateRows
  const ratio = median(checks) / median(scans)
  const ratios = checks.map((c, i) => c / scans[i]!)
  console.log(`reconcile bench: ${rows.toLocaleString('en-US')} rows, 1 changed (id ${changedId}), ${runs} runs ${cold ? 'cold (warehouse checksums computed in every run)' : 'warehouse checksums kept from earlier runs'}, load at each run's start ${loads.join(', ')}, now ${loadavg().map((l) => l.toFixed(1)).join(' ')}`)
  console.log(`| | median s | runs (s) |`)
  console.log(`|---|---:|---|`)
  console.log(`| psql \\copy to /dev/null (full scan) | ${seconds(median(scans))} | ${scans.map(seconds).join(', ')} |`)
  console.log(`| coldpipe reconcile | ${seconds(median(checks))} | ${checks.map(seconds).join(', ')} |`)
  console.log(`time ratio reconcile / full scan: median ${ratio.toFixed(2)}, per run ${ratios.map((r) => r.toFixed(2)).join(', ')} (target <= 1.5 in every run)`)
  console.log(`source rows transferred: ${fetched} fetched + ${aggregates} aggregate rows = ${((fetched + aggregates) / rows * 100).toFixed(4)} % of the table (target < 0.1 %); ${last!.transfer.sourceQueries} statements`)
  console.log(`differing key found: ${found ? `yes (id ${changedId}, column ${last!.different[0]!.columns?.join(',')})` : 'NO'}`)
  process.exitCode = found && ratios.every((r) => r <= 1.5) && (fetched + aggregates) / rows < 0.001 ? 0 : 1
} finally {
  if (!stateDir) {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await rm(root, { recursive: true, force: true })
  }
  await client.end()
}

async function setup(): Promise<void> {
  const t0 = Date.now()
  await client.query(`CREATE SCHEMA ${schema}`)
  await client.query(`CREATE TABLE ${schema}.orders (id bigint PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL, total numeric(12,2) NOT NULL, note text, created_at timestamptz NOT NULL)`)
  await client.query(`INSERT INTO ${schema}.orders SELECT g, g % 100000, (ARRAY['new','paid','shipped','cancelled'])[1 + g % 4], (g % 100000) / 100.0,
    CASE WHEN g % 5 = 0 THEN NULL ELSE 'note ' || g END, '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 second' FROM generate_series(1, ${rows}) g`)
  await client.query(`VACUUM ANALYZE ${schema}.orders`)
  console.error(`table of ${rows} rows built in ${seconds(Date.now() - t0)} s`)

  const sources = { shop: { ...sourceDefaults, kind: 'postgres' as const, url, schema } }
  const exports = [{ source: 'shop', timezone: 'UTC', tables: [{ name: 'orders', mode: 'full' as const, key: ['id'], lagSeconds: 0, chunkRows: 1_000_000 }] }]
  const warehouse: WarehouseConfig = { ...warehouseDefaults, path: join(root, 'wh'), pii: [], softDeletes: false }
  const t1 = Date.now()
  const exporter = createExporter({ sources, exports, lakeRoot: join(root, 'lake') })
  const records = await exporter.runExport(exports[0]!, { runId: 'bench' })
  await exporter.close()
  if (records.some((r) => r.status === 'failed')) throw new Error(`export failed: ${JSON.stringify(records)}`)
  await publish({ lakeRoot: join(root, 'lake'), warehouse })
  console.error(`exported and published in ${seconds(Date.now() - t1)} s`)
  await client.query(`UPDATE ${schema}.orders SET total = total + 0.01 WHERE id = ${changedId}`)

  if (stateDir) {
    await mkdir(stateDir, { recursive: true })
    await writeFile(join(stateDir, 'state.json'), JSON.stringify({ schema, rows }))
  }
}
