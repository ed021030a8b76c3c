/**
 * Reconciling a big Postgres table with one changed row, against reading the whole table once:
 *   node --import tsx bench/reconcile/reconcile-bench.ts [--rows 10000000] [--runs 3] [--url postgres://postgres@127.0.0.1:5432/test]
 *     [--state DIR [--setup-only]] [--scenarios warm,after-change,first,cold] [--cold | --after-change | --first] [--changed-rows 10]
 * With `--state DIR` the table, lake and warehouse are built once into DIR (and the schema kept), and later runs
 * with the same DIR only time: the 10M-row setup can run outside the benchmark lock (`--setup-only`).
 * Builds a table of `--rows` rows, exports it incrementally (cursor `updated_at`) and publishes it through the
 * real export and publish path, changes one row at the source without moving its cursor (what reconcile must
 * find), then alternates `--runs` times: `psql \copy (select …) to /dev/null` (the full scan a copy tool does)
 * and `reconcile` of the table. Scenarios of the warehouse side's kept segment checksums (segment-cache.ts):
 *   (default)       warm: the table state is the one an earlier run computed;
 *   --after-change  before each run, `--changed-rows` rows are changed at the source (cursor moved) and the real
 *                   incremental export and publish bring them in (a delta file): the checksums of the previous
 *                   state are present, only the segments holding changed keys are computed again;
 *   --first         nothing kept (dropped), then one change through export and publish, and the warehouse side
 *                   precomputed after that publish (warehouse-precompute.ts, as the publish stage's post-step does;
 *                   its time and CPU printed apart): the first reconciliation a user runs after a publish;
 *   --cold          nothing kept (dropped before every run): the first-ever reconciliation of a table, no precompute.
 * `--scenarios a,b` runs several, alternating within each run (each with its own full scan), for A/B under load.
 * Prints each run's seconds and this process's CPU seconds for the reconcile (DuckDB runs in it), the rows the
 * reconciliation read from the source (rows and keys fetched, and aggregate rows, next to the table's size) and the ratios.
 * Target: the changed key found, < 0.1 % of the rows transferred, reconcile time <= 1.5x the full scan.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { pino } from 'pino'
import { createExporter, type Exporter } from '../../ingest/export/index.ts'
import { sourceDefaults } from '../../ingest/export/export-config.ts'
import { publish } from '../../warehouse/index.ts'
import { warehouseDefaults, type WarehouseConfig } from '../../warehouse/warehouse-config.ts'
import { reconcile } from '../../warehouse/reconcile/index.ts'
import { PrecomputeRunner } from '../../warehouse/reconcile/precompute-runner.ts'
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
type Scenario = 'warm' | 'after-change' | 'first' | 'cold'
const flagged = (['after-change', 'first', 'cold'] as const).filter((f) => process.argv.includes(`--${f}`))
const scenarios = (process.argv.includes('--scenarios') ? arg('scenarios', '').split(',') : flagged.length ? flagged : ['warm']) as Scenario[]
for (const sc of scenarios) if (!['warm', 'after-change', 'first', 'cold'].includes(sc)) throw new Error(`unknown scenario ${sc}`)
const changedRows = Number(arg('changed-rows', '10'))
const saved = stateDir && existsSync(join(stateDir, 'state.json')) ? (JSON.parse(await readFile(join(stateDir, 'state.json'), 'utf8')) as { schema: string; rows: number; version?: number }) : undefined
if (saved && saved.rows !== rows) throw new Error(`${stateDir} holds ${saved.rows} rows, not ${rows}`)
if (saved && saved.version !== 2) throw new Error(`${stateDir} was built by an older bench (full export, no updated_at): build a new one`)
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
  const { sources, exports, warehouse, lakeRoot } = config()
  if (!saved) await setup()
  if (setupOnly) process.exit(0)

  interface Figures { scans: number[]; checks: number[]; loads: string[]; cpu: number[]; pre: string[] }
  const figures = new Map<Scenario, Figures>(scenarios.map((sc) => [sc, { scans: [], checks: [], loads: [], cpu: [], pre: [] }]))
  let last: Awaited<ReturnType<typeof reconcile>>['results'][number] | undefined
  let allFound = true
  const exporter = scenarios.some((sc) => sc === 'after-change' || sc === 'first') ? createExporter({ sources, exports, lakeRoot }) : undefined
  const reconcileSettings = { lagSeconds: 0 }
  const precompute = new PrecomputeRunner({ sources, exports, warehouse, reconcile: reconcileSettings, lakeRoot, logger: pino({ level: 'warn' }, process.stderr) })
  // What the reconcile's debug log says about the warehouse side: segments carried forward and computed, and the
  // slowest statement per side.
  // When each side's first pass began, from the reconcile's start (lever: does the source pass wait for anything?).
  let notes: { carried?: number; computed?: number; slowest: Record<string, number>; passStart: Record<string, number>; started: number } = { slowest: {}, passStart: {}, started: 0 }
  const logger = pino({ level: 'debug' }, {
    write(line: string) {
      const entry = JSON.parse(line) as { msg: string; carried?: number; computed?: number; side?: string; kind?: string; ms?: number; time: number }
      if (entry.msg === 'reconcile warehouse segments') notes = { ...notes, carried: entry.carried!, computed: entry.computed! }
      if (entry.msg === 'reconcile statement' && entry.side && entry.ms !== undefined) {
        notes.slowest[entry.side] = Math.max(notes.slowest[entry.side] ?? 0, entry.ms)
        if (entry.kind === 'aggregate' && entry.ms > 500) notes.passStart[entry.side] = Math.min(notes.passStart[entry.side] ?? Infinity, entry.time - entry.ms - notes.started)
      }
    },
  })
  const reconcileOnce = () => {
    notes = { slowest: {}, passStart: {}, started: Date.now() }
    return reconcile({ sources, exports, warehouse, reconcile: reconcileSettings, logger })
  }
  // The warm and after-change starting point: checksums of the current state present.
  if (scenarios[0] !== 'cold' && scenarios[0] !== 'first' && !existsSync(cacheDir(warehouse.path))) await reconcileOnce()
  try {
    for (let i = 0; i < runs; i++) {
      for (const scenario of scenarios) {
        const f = figures.get(scenario)!
        if (scenario === 'cold' || scenario === 'first') await rm(cacheDir(warehouse.path), { recursive: true, force: true })
        if (scenario === 'after-change' || scenario === 'first') await changeThroughExport(exporter!, i * scenarios.length + scenarios.indexOf(scenario))
        if (scenario === 'first') {
          // The publish stage's post-step, run to its end before the user's first reconcile.
          const p = Date.now()
          const u = process.cpuUsage()
          precompute.trigger()
          const done = await precompute.idle()
          const used = process.cpuUsage(u)
          const t = done?.tables[0]
          f.pre.push(`${seconds(Date.now() - p)} s / ${((used.user + used.system) / 1e6).toFixed(2)} CPU-s (${t?.status}${t?.reason ? `: ${t.reason}` : ''}, computed ${t?.computed}, carried ${t?.carried})`)
          console.error(`run ${i + 1} first: warehouse side precomputed after the publish in ${f.pre.at(-1)}`)
        }
        f.loads.push(load())
        const s = Date.now()
        // The same columns the export reads, as text, the way a copy tool reads a table.
        await run('psql', [url, '-X', '-q', '-c', `\\copy (SELECT id, customer_id, status, total, note, created_at, updated_at FROM ${schema}.orders) TO '/dev/null'`])
        f.scans.push(Date.now() - s)
        const c = Date.now()
        const u = process.cpuUsage()
        const result = await reconcileOnce()
        const used = process.cpuUsage(u)
        f.cpu.push((used.user + used.system) / 1e6)
        f.checks.push(Date.now() - c)
        last = result.results[0]!
        const ok = last.different.length === 1 && last.different[0]!.key.id === String(changedId) && last.missingCount + last.extraCount === 0
        allFound &&= ok
        console.error(`run ${i + 1} ${scenario} (load ${f.loads.at(-1)} → ${load()}): full scan ${seconds(f.scans.at(-1)!)} s, reconcile ${seconds(f.checks.at(-1)!)} s (${f.cpu.at(-1)!.toFixed(2)} CPU-s in this process), ratio ${(f.checks.at(-1)! / f.scans.at(-1)!).toFixed(2)} (${last.status}; ${JSON.stringify(last.different)}; warehouse segments carried ${notes.carried ?? '-'}, computed ${notes.computed ?? '-'}; slowest statement ms ${JSON.stringify(notes.slowest)}; first pass (> 0.5 s statements) began at ms ${JSON.stringify(notes.passStart)})`)
      }
    }
  } finally {
    await precompute.close()
    await exporter?.close()
  }
  const found = allFound
  const fetched = last!.transfer.sourceRowsFetched + last!.transfer.sourceKeysFetched
  const aggregates = last!.transfer.sourceAggregateRows
  const describe: Record<Scenario, string> = {
    cold: 'cold (nothing kept, no precompute: warehouse checksums computed in every run)',
    'after-change': `after-change (${changedRows} rows changed through incremental export + publish before each run; checksums of the previous state kept)`,
    first: `first (nothing kept; ${changedRows} rows changed through export + publish, warehouse side precomputed after the publish, then the first reconcile)`,
    warm: 'warm (warehouse checksums of this table state kept from an earlier run)',
  }
  console.log(`reconcile bench: ${rows.toLocaleString('en-US')} rows, 1 changed without its cursor (id ${changedId}), ${runs} runs of ${scenarios.join(', ')}${scenarios.length > 1 ? ' alternating' : ''}; now load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`)
  let met = true
  for (const [scenario, f] of figures) {
    const ratios = f.checks.map((c, i) => c / f.scans[i]!)
    met &&= ratios.every((r) => r <= 1.5)
    console.log(`\n${describe[scenario]}, load at each run's start ${f.loads.join(', ')}`)
    console.log(`| | median s | runs (s) |`)
    console.log(`|---|---:|---|`)
    console.log(`| psql \\copy to /dev/null (full scan) | ${seconds(median(f.scans))} | ${f.scans.map(seconds).join(', ')} |`)
    console.log(`| coldpipe reconcile | ${seconds(median(f.checks))} | ${f.checks.map(seconds).join(', ')} |`)
    console.log(`| reconcile CPU-s in this process (DuckDB, Node) | ${median(f.cpu).toFixed(2)} | ${f.cpu.map((c) => c.toFixed(2)).join(', ')} |`)
    if (f.pre.length) console.log(`| precompute after the publish (not in the reconcile's time) | | ${f.pre.join('; ')} |`)
    console.log(`time ratio reconcile / full scan: median ${(median(f.checks) / median(f.scans)).toFixed(2)}, per run ${ratios.map((r) => r.toFixed(2)).join(', ')} (target <= 1.5 in every run)`)
  }
  console.log(`source rows transferred: ${fetched} fetched + ${aggregates} aggregate rows = ${((fetched + aggregates) / rows * 100).toFixed(4)} % of the table (target < 0.1 %); ${last!.transfer.sourceQueries} statements`)
  console.log(`differing key found: ${found ? `yes in every run (id ${changedId}, column ${last!.different[0]!.columns?.join(',')})` : 'NO (in at least one run)'}`)
  process.exitCode = found && met && (fetched + aggregates) / rows < 0.001 ? 0 : 1
} finally {
  if (!stateDir) {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await rm(root, { recursive: true, force: true })
  }
  await client.end()
}

function config() {
  const sources = { shop: { ...sourceDefaults, kind: 'postgres' as const, url, schema } }
  const exports = [{ source: 'shop', timezone: 'UTC', tables: [{ name: 'orders', mode: 'incremental' as const, cursor: 'updated_at', key: ['id'], lagSeconds: 0, chunkRows: 1_000_000 }] }]
  const warehouse: WarehouseConfig = { ...warehouseDefaults, path: join(root, 'wh'), pii: [], softDeletes: false }
  return { sources, exports, warehouse, lakeRoot: join(root, 'lake') }
}

/** `changedRows` rows changed at the source with their cursor moved, then brought in by the real incremental export and publish. */
async function changeThroughExport(exporter: Exporter, i: number): Promise<void> {
  const { exports, warehouse, lakeRoot } = config()
  const t = Date.now()
  // Spread over the key range (a different segment each), never the row changed without its cursor.
  const ids = Array.from({ length: changedRows }, (_, j) => 1 + ((j * 7_919_993 + i * 104_729 + 12_345) % rows)).filter((id) => id !== changedId)
  await client.query(`UPDATE ${schema}.orders SET status = 'changed', note = 'run ' || $1::text, updated_at = clock_timestamp() WHERE id = ANY($2::bigint[])`, [`${process.pid}-${i}`, ids])
  const records = await exporter.runExport(exports[0]!, { runId: `change-${process.pid}-${i}` })
  if (records.some((r) => r.status === 'failed')) throw new Error(`export failed: ${JSON.stringify(records)}`)
  await publish({ lakeRoot, warehouse })
  console.error(`run ${i + 1}: ${ids.length} rows changed, exported and published in ${seconds(Date.now() - t)} s`)
}

async function setup(): Promise<void> {
  const t0 = Date.now()
  await client.query(`CREATE SCHEMA ${schema}`)
  await client.query(`CREATE TABLE ${schema}.orders (id bigint PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL, total numeric(12,2) NOT NULL, note text, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)`)
  await client.query(`INSERT INTO ${schema}.orders SELECT g, g % 100000, (ARRAY['new','paid','shipped','cancelled'])[1 + g % 4], (g % 100000) / 100.0,
    CASE WHEN g % 5 = 0 THEN NULL ELSE 'note ' || g END, '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 second', '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 second' FROM generate_series(1, ${rows}) g`)
  // An incremental export's cursor has an index (else every export and the too-new lookup scan the table).
  await client.query(`CREATE INDEX ON ${schema}.orders (updated_at)`)
  await client.query(`VACUUM ANALYZE ${schema}.orders`)
  console.error(`table of ${rows} rows built in ${seconds(Date.now() - t0)} s`)

  const { sources, exports, warehouse, lakeRoot } = config()
  const t1 = Date.now()
  const exporter = createExporter({ sources, exports, lakeRoot })
  const records = await exporter.runExport(exports[0]!, { runId: 'bench' })
  await exporter.close()
  if (records.some((r) => r.status === 'failed')) throw new Error(`export failed: ${JSON.stringify(records)}`)
  await publish({ lakeRoot, warehouse })
  console.error(`exported and published in ${seconds(Date.now() - t1)} s`)
  // Changed without moving its cursor: reconcile must find it (the export cannot).
  await client.query(`UPDATE ${schema}.orders SET total = total + 0.01 WHERE id = ${changedId}`)

  if (stateDir) {
    await mkdir(stateDir, { recursive: true })
    await writeFile(join(stateDir, 'state.json'), JSON.stringify({ schema, rows, version: 2 }))
  }
}
