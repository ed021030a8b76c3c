// The CLI as a user runs it: whole processes from the shell, start-up included.
// Run: npm run build && node --import tsx bench/cli/cli-bench.ts [--rows 2000000] [--runs 3] [--rounds 3] [--bin file.mjs]
// (--bin: another entry point in place of bin/coldpipe.mjs for an A/B: `node scripts/build-cli.mjs --outdir
// bench/results/tmp/b/dist` and a copy of bin/coldpipe.mjs in bench/results/tmp/b/bin/, so node_modules resolves.)
// - `coldpipe --help` and `coldpipe sql -c "select 1"` against `node -e 0` (Node's own start-up), targets
//   <= 0.3 s and <= 1 s in every run;
// - `coldpipe export` of a Postgres table against the two-step a user would script for the same Parquet:
//   `psql \copy orders (columns) to file (format csv)` (by name, as coldpipe copies a whole plain table; the
//   `\copy (select …)` form costs the backend a fifth more), then DuckDB `COPY (read_csv(file)) TO file (FORMAT parquet,
//   COMPRESSION zstd)` (Debian has no duckdb CLI: the step runs as `node` with @duckdb/node-api, which starts
//   about as fast). Target: coldpipe at least 1.3x faster (wall), in every run; a run compares the medians of
//   --rounds alternating rounds of each side (as export-bench does). One round of the export and the two-step
//   runs unmeasured first (a warm-up, as hyperfine's --warmup).
// Wall and CPU seconds come from the child's rusage (user + sys of the whole process tree it waited for).
import { execFileSync, spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import pg from 'pg'

const { values } = parseArgs({ options: { rows: { type: 'string', default: '2000000' }, runs: { type: 'string', default: '3' }, rounds: { type: 'string', default: '3' }, bin: { type: 'string' }, help: { type: 'boolean' } } })
if (values.help) {
  process.stdout.write('node --import tsx bench/cli/cli-bench.ts [--rows 2000000] [--runs 3] [--rounds 3] [--bin file.mjs]\n')
  process.exit(0)
}
const rows = Number(values.rows)
const runs = Math.max(1, Number(values.runs))
const rounds = Math.max(1, Number(values.rounds))
const root = join(import.meta.dirname, '..', '..')
const bin = values.bin ? resolve(values.bin) : join(root, 'bin', 'coldpipe.mjs')
const pgUrl = process.env.COLDPIPE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) {
  process.stderr.write('dist/ is missing: run `npm run build` first (npm ci does it)\n')
  process.exit(1)
}
// What a user's shell gives the command: the compiled tree, not the test setting.
const env = { ...process.env, COLDPIPE_FROM_SOURCE: '' }

interface Measured {
  wallS: number
  cpuS: number
}

/** Runs a command to its end through `/usr/bin/time`, which reports the wall time and the CPU of the whole tree. */
function measure(command: string, args: string[]): Measured {
  // From the project folder, so the DuckDB step resolves @duckdb/node-api as a user's script beside it would.
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S', command, ...args], { encoding: 'utf8', env, cwd: root, maxBuffer: 1 << 26 })
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${r.status}): ${r.stderr.slice(-2000)}`)
  const [wall, user, sys] = r.stderr.trim().split('\n').at(-1)!.split(' ').map(Number) as [number, number, number]
  return { wallS: wall, cpuS: user + sys }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const work = mkdtempSync(join(tmpdir(), 'coldpipe-cli-bench-'))
const schema = `bench_${randomUUID().slice(0, 8)}`
const client = new pg.Client(pgUrl)
await client.connect()
await client.query(`CREATE SCHEMA ${schema}`)
const columns = 'id, customer_id, status, total, created_at, updated_at, note'
try {
  process.stderr.write(`postgres: generating ${rows} rows in ${schema}.orders\n`)
  await client.query(`CREATE TABLE ${schema}.orders (id bigint PRIMARY KEY, customer_id bigint, status text, total numeric(12,2), created_at timestamptz, updated_at timestamptz, note text)`)
  await client.query(`INSERT INTO ${schema}.orders SELECT g, g % 50000, (ARRAY['new','paid','shipped','cancelled'])[1 + g % 4], (g % 100000) / 100.0,
    '2025-01-01'::timestamptz + g * interval '1 second', '2025-01-01'::timestamptz + g * interval '2 second', CASE WHEN g % 7 = 0 THEN NULL ELSE 'note ' || md5(g::text) END
    FROM generate_series(1, ${rows}) g`)
  await client.query(`VACUUM ANALYZE ${schema}.orders`)
  await client.query(`CREATE TABLE ${schema}.small AS SELECT g AS id FROM generate_series(1, 10) g`)

  const config = join(work, 'coldpipe.yaml')
  writeFileSync(config, [
    `lake: ${join(work, 'lake')}`,
    `warehouse: { path: ${join(work, 'warehouse')} }`,
    `sources: { shop: { kind: postgres, url: "${pgUrl}", schema: ${schema} }, shop2: { kind: postgres, url: "${pgUrl}", schema: ${schema}, maxConnections: 2 } }`,
    'exports:',
    '  - source: shop',
    '    tables:',
    '      - { name: orders, mode: full, key: [id] }',
    '      - { name: small, mode: full, key: [id] }',
    // The same table read over two connections of one snapshot (issue 19's parallelism setting).
    '  - source: shop2',
    '    tables:',
    '      - { name: orders, mode: full, key: [id], parallelism: 2 }',
  ].join('\n'))
  // A snapshot for `sql -c`.
  execFileSync('node', [bin, '-c', config, '--log-level', 'warn', 'export', 'shop', '--table', 'small'], { env, stdio: ['ignore', 'ignore', 'inherit'] })
  execFileSync('node', [bin, '-c', config, '--log-level', 'warn', 'publish'], { env, stdio: ['ignore', 'ignore', 'inherit'] })

  const csv = join(work, 'orders.csv')
  const parquet = join(work, 'orders.parquet')
  const duckStep = `import { createRequire } from 'node:module'; const { DuckDBInstance } = createRequire(process.cwd() + '/')('@duckdb/node-api')
const db = await DuckDBInstance.create(':memory:'); const c = await db.connect()
await c.run("COPY (SELECT * FROM read_csv('${csv}', header = true)) TO '${parquet}' (FORMAT parquet, COMPRESSION zstd)")`

  // One unmeasured round first, as hyperfine's --warmup: the first read of a freshly written table and the first
  // start of each command pay for cold caches (the table's pages, DuckDB's library), whichever side runs first.
  measure('node', [bin, '-c', config, '--log-level', 'warn', 'export', 'shop', '--table', 'orders'])
  measure('psql', [pgUrl, '-qc', `\\copy ${schema}.orders (${columns}) to '${csv}' (format csv, header)`])
  measure('node', ['--input-type=module', '-e', duckStep])
  rmSync(csv, { force: true })
  rmSync(parquet, { force: true })

  const table: string[][] = []
  let met = true
  for (let run = 1; run <= runs; run++) {
    const node0 = median([1, 2, 3].map(() => measure('node', ['-e', '0']).wallS))
    const help = median([1, 2, 3].map(() => measure('node', [bin, '--help']).wallS))
    const sql = median([1, 2, 3].map(() => measure('node', [bin, '-c', config, 'sql', '-c', 'select 1']).wallS))
    // Each side `rounds` times, alternating, and the medians compared (as export-bench does): on a shared VM one
    // process can meet a slow second that the next one does not.
    const exports: Measured[] = []
    const parallels: Measured[] = []
    const psqls: Measured[] = []
    const ducks: Measured[] = []
    for (let round = 0; round < rounds; round++) {
      exports.push(measure('node', [bin, '-c', config, '--log-level', 'warn', 'export', 'shop', '--table', 'orders']))
      parallels.push(measure('node', [bin, '-c', config, '--log-level', 'warn', 'export', 'shop2', '--table', 'orders']))
      psqls.push(measure('psql', [pgUrl, '-qc', `\\copy ${schema}.orders (${columns}) to '${csv}' (format csv, header)`]))
      ducks.push(measure('node', ['--input-type=module', '-e', duckStep]))
      rmSync(csv, { force: true })
      rmSync(parquet, { force: true })
    }
    const medianOf = (ms: Measured[]): Measured => ({ wallS: median(ms.map((m) => m.wallS)), cpuS: median(ms.map((m) => m.cpuS)) })
    const exportRun = medianOf(exports)
    const parallelRun = medianOf(parallels)
    const psql = medianOf(psqls)
    const duck = medianOf(ducks)
    const twoStep = medianOf(psqls.map((p, i) => ({ wallS: p.wallS + ducks[i]!.wallS, cpuS: p.cpuS + ducks[i]!.cpuS })))
    const speedup = twoStep.wallS / exportRun.wallS
    const parallelSpeedup = twoStep.wallS / parallelRun.wallS
    const ok = help <= 0.3 && sql <= 1 && speedup >= 1.3
    met &&= ok
    table.push([String(run), node0.toFixed(2), help.toFixed(2), sql.toFixed(2), `${exportRun.wallS.toFixed(2)} (${exportRun.cpuS.toFixed(1)} CPU)`,
      `${psql.wallS.toFixed(2)} + ${duck.wallS.toFixed(2)}, ${twoStep.wallS.toFixed(2)} (${twoStep.cpuS.toFixed(1)} CPU)`, speedup.toFixed(2),
      `${parallelRun.wallS.toFixed(2)} (${parallelRun.cpuS.toFixed(1)} CPU)`, parallelSpeedup.toFixed(2), exports.map((e, i) => ((psqls[i]!.wallS + ducks[i]!.wallS) / e.wallS).toFixed(2)).join(' / '),
      (loadavg()[0] ?? 0).toFixed(1), ok ? 'yes' : '**no**'])
  }
  process.stdout.write(`\n${rows} rows; wall seconds, median of 3 for the short commands and of ${rounds} alternating rounds for the export and the two-step (psql, DuckDB, their sum per round); every run must meet: --help <= 0.3 s, sql -c <= 1 s, export >= 1.3x faster than psql + DuckDB\n\n`)
  process.stdout.write('| run | node -e 0 s | --help s | sql -c "select 1" s | coldpipe export s | psql \\copy + DuckDB s | speedup | export, parallelism 2 s | its speedup | speedup per round | load (1 min) | met |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|\n')
  for (const row of table) process.stdout.write(`| ${row.join(' | ')} |\n`)
  process.stdout.write(`\ntargets ${met ? 'met' : 'NOT met'} in every run\n`)
  process.exitCode = met ? 0 : 1
} finally {
  await client.query(`DROP SCHEMA ${schema} CASCADE`)
  await client.end()
  rmSync(work, { recursive: true, force: true })
}
