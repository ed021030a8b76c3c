// Exports as whole jobs, against what a user would run instead, measured in the same run (issue 19).
// Run: npm run build && node --import tsx bench/exports/export-bench.ts [--rows 2000000] [--repeat 3] [--parallelism 2]
//        [--rss-rows 5000000] [--no-mysql]
// Per round, alternately (medians over --repeat rounds are compared):
// - `psql \copy orders (columns) to /dev/null (format csv)`: the wall-time baseline (target: coldpipe >= 0.75 of its
//   rows/s). Copied by name, as coldpipe copies a whole plain table: `\copy (select …)` costs the backend about a
//   fifth more CPU, and a baseline slower than what coldpipe sends would flatter it;
// - the two-step a user would script for the same Parquet: `psql \copy … to file (format csv, header)`, then
//   DuckDB `COPY (SELECT * FROM read_csv(file)) TO … (FORMAT parquet, COMPRESSION zstd)` (a `node` script on
//   @duckdb/node-api: Debian has no duckdb CLI); the CPU baseline;
// - `coldpipe export` (the compiled CLI, a whole process) with parallelism 1 and --parallelism.
// CPU-seconds count whole jobs: every client process (user + sys through /usr/bin/time) and the database
// server's work for it: each Postgres backend's utime + stime, read from /proc while it runs (backends are
// found by application_name); for MariaDB, the server process's CPU over the job (a shared server: other
// clients count too, the machine should be otherwise quiet for those rows). Target: coldpipe <= 0.8x.
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import mysql from 'mysql2/promise'
import pg from 'pg'

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '2000000' },
    repeat: { type: 'string', default: '3' },
    parallelism: { type: 'string', default: '2' },
    'rss-rows': { type: 'string', default: '' },
    'no-mysql': { type: 'boolean', default: false },
    help: { type: 'boolean' },
  },
})
if (values.help) {
  process.stdout.write('npm run build && node --import tsx bench/exports/export-bench.ts [--rows 2000000] [--repeat 3] [--parallelism 2] [--rss-rows 5000000] [--no-mysql]\n')
  process.exit(0)
}
const rows = Number(values.rows)
const repeat = Math.max(1, Number(values.repeat))
const parallelism = Math.max(2, Number(values.parallelism))
const rssRows = values['rss-rows'] ? values['rss-rows'].split(',').map(Number) : []
const root = join(import.meta.dirname, '..', '..')
const bin = join(root, 'bin', 'coldpipe.mjs')
const pgUrl = process.env.COLDPIPE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const myUrl = process.env.COLDPIPE_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test'
const columns = 'id, customer_id, status, total, created_at, updated_at, note'
if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) {
  process.stderr.write('dist/ is missing: run `npm run build` first\n')
  process.exit(1)
}
const env = { ...process.env, COLDPIPE_FROM_SOURCE: '' }
const tick = 100 // USER_HZ of /proc/<pid>/stat on Linux

interface Measured {
  wallS: number
  /** user + sys of the client process tree. */
  cpuS: number
  maxRssKb: number
  stdout: string
}

/** Runs a command to its end under /usr/bin/time: wall, CPU and peak RSS of what it waited for. */
function measure(command: string, args: string[], extraEnv: Record<string, string> = {}): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', '%e %U %S %M', command, ...args], { cwd: root, env: { ...env, ...extraEnv } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${command} ${args.join(' ')} failed (${code}): ${stderr.slice(-3000)}`))
      const [wall, user, sys, rss] = stderr.trim().split('\n').at(-1)!.split(' ').map(Number) as [number, number, number, number]
      resolve({ wallS: wall, cpuS: user + sys, maxRssKb: rss, stdout })
    })
  })
}

function procTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return Number(fields[11]) + Number(fields[12])
  } catch {
    return undefined
  }
}

/** CPU of the Postgres backends serving `appName`, polled from /proc while they live (misses < 20 ms each). */
function watchBackends(client: pg.Client, appName: string): { stop(): Promise<number> } {
  const seen = new Map<number, number>()
  let busy = false
  const poll = async (): Promise<void> => {
    if (busy) return
    busy = true
    try {
      const { rows: found } = await client.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [appName])
      for (const { pid } of found) if (!seen.has(pid)) seen.set(pid, 0)
      for (const pid of seen.keys()) {
        const t = procTicks(pid)
        if (t !== undefined) seen.set(pid, Math.max(seen.get(pid)!, t))
      }
    } finally {
      busy = false
    }
  }
  const timer = setInterval(() => void poll().catch(() => undefined), 20)
  return {
    async stop() {
      clearInterval(timer)
      return [...seen.values()].reduce((a, b) => a + b, 0) / tick
    },
  }
}

function mariadbPid(): number | undefined {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      if (/^(mariadbd|mysqld)$/.test(readFileSync(`/proc/${name}/comm`, 'utf8').trim())) return Number(name)
    } catch {
      // gone meanwhile
    }
  }
  return undefined
}

interface Job {
  wallS: number
  clientCpuS: number
  serverCpuS: number
  bytes?: number
  maxRssKb?: number
}
const totalCpu = (j: Job): number => j.clientCpuS + j.serverCpuS
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

const work = mkdtempSync(join(tmpdir(), 'coldpipe-export-bench-'))
const watcher = new pg.Client(pgUrl)
await watcher.connect()
const schema = `bench_${randomUUID().slice(0, 8)}`
const database = `bench_${randomUUID().slice(0, 8)}`
const my = values['no-mysql'] ? undefined : await mysql.createConnection({ uri: myUrl })
const report: string[] = []
const say = (line: string): void => {
  report.push(line)
  process.stderr.write(`${line}\n`)
}

async function pgTable(table: string, n: number): Promise<void> {
  await watcher.query(`CREATE TABLE ${schema}.${table} (id bigint PRIMARY KEY, customer_id bigint, status text, total numeric(12,2), created_at timestamptz, updated_at timestamptz, note text)`)
  await watcher.query(`INSERT INTO ${schema}.${table} SELECT g, g % 50000, (ARRAY['new','paid','shipped','cancelled'])[1 + g % 4], (g % 100000) / 100.0,
    '2025-01-01'::timestamptz + g * interval '1 second', '2025-01-01'::timestamptz + g * interval '2 second', CASE WHEN g % 7 = 0 THEN NULL ELSE 'note ' || md5(g::text) END
    FROM generate_series(1, ${n}) g`)
  await watcher.query(`VACUUM ANALYZE ${schema}.${table}`)
}

function writeConfig(name: string, sourceUrl: string, kind: 'postgres' | 'mysql', sourceSchema: string | undefined, table: string, par: number): string {
  const path = join(work, `${name}.yaml`)
  writeFileSync(path, [
    `lake: ${join(work, `lake-${name}`)}`,
    `warehouse: { path: ${join(work, `warehouse-${name}`)} }`,
    `sources: { src: { kind: ${kind}, url: "${sourceUrl}"${sourceSchema ? `, schema: ${sourceSchema}` : ''}, maxConnections: ${Math.max(2, par)} } }`,
    'exports:',
    '  - source: src',
    '    tables:',
    `      - { name: ${table}, mode: full, parallelism: ${par} }`,
  ].join('\n'))
  return path
}

function lakeBytes(dir: string): number {
  let total = 0
  for (const name of readdirSync(dir, { recursive: true })) {
    const path = join(dir, String(name))
    if (path.endsWith('.parquet')) total += statSync(path).size
  }
  return total
}

async function coldpipeExport(name: string, config: string, server: () => { stop(): Promise<number> }): Promise<Job> {
  rmSync(join(work, `lake-${name}`), { recursive: true, force: true })
  const watch = server()
  const m = await measure('node', [bin, '-c', config, '--log-level', 'warn', 'export', 'src'])
  const serverCpuS = await watch.stop()
  return { wallS: m.wallS, clientCpuS: m.cpuS, serverCpuS, bytes: lakeBytes(join(work, `lake-${name}`)), maxRssKb: m.maxRssKb }
}

const duckStep = (csv: string, parquet: string, options: string): string[] => [
  '--input-type=module',
  '-e',
  `import { createRequire } from 'node:module'; const { DuckDBInstance } = createRequire(process.cwd() + '/')('@duckdb/node-api')
const db = await DuckDBInstance.create(':memory:'); const c = await db.connect()
await c.run(${JSON.stringify(`COPY (SELECT * FROM read_csv('${csv}'${options})) TO '${parquet}' (FORMAT parquet, COMPRESSION zstd)`)})`,
]

function table(title: string, header: string[], body: string[][]): void {
  say(`\n${title}\n`)
  say(`| ${header.join(' | ')} |`)
  say(`|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`)
  for (const r of body) say(`| ${r.join(' | ')} |`)
}

const f2 = (x: number): string => x.toFixed(2)
const jobCell = (j: Job): string => `${f2(j.wallS)} s, ${f2(totalCpu(j))} CPU (${f2(j.clientCpuS)} + server ${f2(j.serverCpuS)})`

await watcher.query(`CREATE SCHEMA ${schema}`)
if (my) await my.query(`CREATE DATABASE ${database}`)
try {
  say(`export bench: ${rows} rows, ${repeat} rounds, parallelism ${parallelism}, ${cpus().length} cores, load average at start ${loadavg().map(f2).join(' ')}`)
  await pgTable('orders', rows)
  const csv = join(work, 'orders.csv')
  const twoStepParquet = join(work, 'orders.parquet')
  const pgApp = (tag: string): string => `${pgUrl}${pgUrl.includes('?') ? '&' : '?'}application_name=${tag}`
  const single = writeConfig('pg1', pgApp('cpbench_pg1'), 'postgres', schema, 'orders', 1)
  const multi = writeConfig('pgN', pgApp('cpbench_pgN'), 'postgres', schema, 'orders', parallelism)
  const psqlTable = `${schema}.orders (${columns})`
  const pgRounds: { devnull: Job; twoStep: Job; twoStepBytes: number; one: Job; many: Job; load: number }[] = []
  for (let round = 1; round <= repeat; round++) {
    const load = loadavg()[0]!
    let watch = watchBackends(watcher, 'cpbench_psql')
    const devnullRun = await measure('psql', [pgUrl, '-qc', `\\copy ${psqlTable} to '/dev/null' (format csv)`], { PGAPPNAME: 'cpbench_psql' })
    const devnull: Job = { wallS: devnullRun.wallS, clientCpuS: devnullRun.cpuS, serverCpuS: await watch.stop() }
    watch = watchBackends(watcher, 'cpbench_psql2')
    const copyRun = await measure('psql', [pgUrl, '-qc', `\\copy ${psqlTable} to '${csv}' (format csv, header)`], { PGAPPNAME: 'cpbench_psql2' })
    const copyServer = await watch.stop()
    const duckRun = await measure('node', duckStep(csv, twoStepParquet, ', header = true'))
    const twoStep: Job = { wallS: copyRun.wallS + duckRun.wallS, clientCpuS: copyRun.cpuS + duckRun.cpuS, serverCpuS: copyServer }
    const twoStepBytes = statSync(twoStepParquet).size
    rmSync(csv, { force: true })
    rmSync(twoStepParquet, { force: true })
    const one = await coldpipeExport('pg1', single, () => watchBackends(watcher, 'cpbench_pg1'))
    const many = await coldpipeExport('pgN', multi, () => watchBackends(watcher, 'cpbench_pgN'))
    pgRounds.push({ devnull, twoStep, twoStepBytes, one, many, load })
    process.stderr.write(`postgres round ${round}: load ${f2(load)}; /dev/null ${jobCell(devnull)}; two-step ${jobCell(twoStep)}; coldpipe ${jobCell(one)}; parallel ${jobCell(many)}\n`)
  }
  table(
    `PostgreSQL, ${rows} rows: each round alternates the four jobs (wall s, CPU-s = client processes + Postgres backends)`,
    ['round', 'load (1 min)', 'psql \\copy → /dev/null', 'psql \\copy → file + DuckDB → Parquet', 'coldpipe export', `coldpipe export, parallelism ${parallelism}`, 'CPU ratio (1 / par.) ≤ 0.8', 'wall vs /dev/null (1 / par.) ≥ 0.75'],
    pgRounds.map((r, i) => [
      String(i + 1), f2(r.load), jobCell(r.devnull), jobCell(r.twoStep), jobCell(r.one), jobCell(r.many),
      `${f2(totalCpu(r.one) / totalCpu(r.twoStep))} / ${f2(totalCpu(r.many) / totalCpu(r.twoStep))}`,
      `${f2(r.devnull.wallS / r.one.wallS)} / ${f2(r.devnull.wallS / r.many.wallS)}`,
    ]),
  )
  const med = (pick: (r: (typeof pgRounds)[number]) => number): number => median(pgRounds.map(pick))
  say(`\nmedians: CPU ratio ${f2(med((r) => totalCpu(r.one) / totalCpu(r.twoStep)))} (parallel ${f2(med((r) => totalCpu(r.many) / totalCpu(r.twoStep)))}); wall vs /dev/null ${f2(med((r) => r.devnull.wallS / r.one.wallS))} (parallel ${f2(med((r) => r.devnull.wallS / r.many.wallS))}); wall speed-up over the two-step ${f2(med((r) => r.twoStep.wallS / r.one.wallS))} (parallel ${f2(med((r) => r.twoStep.wallS / r.many.wallS))})`)
  say(`Parquet bytes: coldpipe ${pgRounds.at(-1)!.one.bytes} (parallel ${pgRounds.at(-1)!.many.bytes}), DuckDB defaults with zstd (the two-step) ${pgRounds.at(-1)!.twoStepBytes}; peak RSS coldpipe ${Math.round(pgRounds.at(-1)!.one.maxRssKb! / 1024)} MB (parallel ${Math.round(pgRounds.at(-1)!.many.maxRssKb! / 1024)} MB)`)

  if (my) {
    const server = mariadbPid()
    if (!server) throw new Error('no mariadbd/mysqld process found for the server CPU')
    await my.query(`CREATE TABLE ${database}.orders (id bigint PRIMARY KEY, customer_id bigint, status varchar(20), total decimal(12,2), created_at timestamp(6) NULL, updated_at timestamp(6) NULL, note text)`)
    await my.query(`INSERT INTO ${database}.orders SELECT seq, seq % 50000, ELT(1 + seq % 4, 'new','paid','shipped','cancelled'), (seq % 100000) / 100,
      TIMESTAMP'2025-01-01 00:00:00' + INTERVAL seq SECOND, TIMESTAMP'2025-01-01 00:00:00' + INTERVAL (2 * seq) SECOND, IF(seq % 7 = 0, NULL, concat('note ', md5(seq))) FROM seq_1_to_${rows}`)
    await my.query(`ANALYZE TABLE ${database}.orders`)
    const serverCpu = (): { stop(): Promise<number> } => {
      const before = procTicks(server)!
      return { stop: async () => (procTicks(server)! - before) / tick }
    }
    const tsv = join(work, 'orders.tsv')
    const parquet = join(work, 'orders-my.parquet')
    const config = writeConfig('my', myUrl.replace(/\/[^/]*$/, `/${database}`), 'mysql', undefined, 'orders', 1)
    const myRounds: { devnull: Job; twoStep: Job; one: Job; load: number }[] = []
    for (let round = 1; round <= repeat; round++) {
      const load = loadavg()[0]!
      const select = `select ${columns} from ${database}.orders`
      let watch = serverCpu()
      const devnullRun = await measure('sh', ['-c', `mariadb -h 127.0.0.1 -u root --quick -B -e "${select}" > /dev/null`])
      const devnull: Job = { wallS: devnullRun.wallS, clientCpuS: devnullRun.cpuS, serverCpuS: await watch.stop() }
      watch = serverCpu()
      const dump = await measure('sh', ['-c', `mariadb -h 127.0.0.1 -u root --quick -B -e "${select}" > '${tsv}'`])
      const dumpServer = await watch.stop()
      const duckRun = await measure('node', duckStep(tsv, parquet, `, delim = '\\t', header = true, nullstr = 'NULL'`))
      const twoStep: Job = { wallS: dump.wallS + duckRun.wallS, clientCpuS: dump.cpuS + duckRun.cpuS, serverCpuS: dumpServer }
      rmSync(tsv, { force: true })
      rmSync(parquet, { force: true })
      const one = await coldpipeExport('my', config, serverCpu)
      myRounds.push({ devnull, twoStep, one, load })
      process.stderr.write(`mariadb round ${round}: load ${f2(load)}; /dev/null ${jobCell(devnull)}; two-step ${jobCell(twoStep)}; coldpipe ${jobCell(one)}\n`)
    }
    table(
      `MariaDB, ${rows} rows (server CPU: the whole mariadbd process over each job)`,
      ['round', 'load (1 min)', 'mariadb -B → /dev/null', 'mariadb -B → file + DuckDB → Parquet', 'coldpipe export', 'CPU ratio ≤ 0.8', 'wall vs /dev/null'],
      myRounds.map((r, i) => [String(i + 1), f2(r.load), jobCell(r.devnull), jobCell(r.twoStep), jobCell(r.one), f2(totalCpu(r.one) / totalCpu(r.twoStep)), f2(r.devnull.wallS / r.one.wallS)]),
    )
    say(`\nmedians: CPU ratio ${f2(median(myRounds.map((r) => totalCpu(r.one) / totalCpu(r.twoStep))))}; wall vs /dev/null ${f2(median(myRounds.map((r) => r.devnull.wallS / r.one.wallS)))}`)
  }

  for (const n of rssRows) {
    const name = `rss_${n}`
    process.stderr.write(`postgres: peak RSS at ${n} rows\n`)
    await pgTable(name, n)
    for (const par of [1, parallelism]) {
      const config = writeConfig(`rss${par}`, pgApp(`cpbench_rss${par}`), 'postgres', schema, name, par)
      const job = await coldpipeExport(`rss${par}`, config, () => watchBackends(watcher, `cpbench_rss${par}`))
      say(`peak RSS at ${n} rows, parallelism ${par}: ${Math.round(job.maxRssKb! / 1024)} MB (target < 512), ${jobCell(job)}, Parquet ${job.bytes} bytes`)
    }
    await watcher.query(`DROP TABLE ${schema}.${name}`)
  }
  say(`load average at the end ${loadavg().map(f2).join(' ')}`)
} finally {
  await watcher.query(`DROP SCHEMA ${schema} CASCADE`)
  await watcher.end()
  if (my) {
    await my.query(`DROP DATABASE ${database}`)
    await my.end()
  }
  rmSync(work, { recursive: true, force: true })
}
process.stdout.write(`${report.join('\n')}\n`)
