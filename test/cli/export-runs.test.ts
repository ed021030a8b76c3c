import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it, onTestFinished } from 'vitest'
import { JobLocks, RunHistory } from '../../jobs/index.ts'
import { CommitLog } from '../../lake/index.ts'
import { postgresSchema } from '../helpers/databases.ts'
import { faultProxy } from '../helpers/fault-proxy.ts'
import { tempDir } from '../helpers/temp-dir.ts'

const bin = fileURLToPath(new URL('../../bin/coldpipe.mjs', import.meta.url))

interface Cli {
  pid: number
  exited: Promise<{ code: number | null; stdout: string; stderr: string }>
}

/** A real `coldpipe` process. */
function coldpipe(args: string[]): Cli {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PORT: '' } })
  onTestFinished(() => void child.kill('SIGKILL'))
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  return { pid: child.pid!, exited: new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr }))) }
}

async function writeConfig(dir: string, port: number, schema: string, tables: unknown[], jobs: Record<string, unknown> = {}): Promise<string> {
  const file = join(dir, 'coldpipe.yaml')
  const config = {
    lake: './lake',
    warehouse: './warehouse',
    // No retries anywhere: the test decides when the source comes back.
    sources: { shop: { kind: 'postgres', url: `postgres://postgres@127.0.0.1:${port}/test`, schema, retryMaxAttempts: 0, readTimeoutMs: 600_000 } },
    exports: [{ source: 'shop', tables }],
    jobs: { retryMaxAttempts: 0, ...jobs },
  }
  await writeFile(file, JSON.stringify(config))
  return file
}

const noStack = /^\s+at /m

describe('coldpipe export as a job run', () => {
  it('a second export of the same source while one runs exits non-zero at once with JOB_ALREADY_RUNNING naming the holder', async () => {
    const { client, schema } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.items (id int, payload text)`)
    await client.query(`INSERT INTO ${schema}.items SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g`)
    const proxy = await faultProxy({ host: '127.0.0.1', port: 5432 })
    const dir = await tempDir()
    const file = await writeConfig(dir, proxy.port, schema, [{ name: 'items', mode: 'full' }])
    // The first export stalls mid-COPY (its lock held) until the test heals the connection.
    proxy.stallAfter(300_000)
    const first = coldpipe(['--config', file, '--log-level', 'silent', 'export', 'shop'])
    await proxy.fired()
    const second = await coldpipe(['--config', file, '--log-level', 'silent', 'export', 'shop']).exited
    expect(second.code).toBe(1)
    expect(second.stderr).toMatch(new RegExp(`^coldpipe: JOB_ALREADY_RUNNING: job export:shop is already running \\(held by [^)]*:${first.pid}:[0-9a-f]{8}\\)`, 'm'))
    expect(second.stderr).not.toMatch(noStack)
    expect(second.stdout).toBe('')

    proxy.heal()
    const done = await first.exited
    // Nothing but the progress lines (on a pipe: plain lines, the last one the table's total).
    expect(done.stderr.trimEnd().split('\n').every((line) => line.startsWith('shop.items  '))).toBe(true)
    expect(done.stderr).toMatch(/^shop\.items {2}20k rows in /m)
    expect(done.code).toBe(0)
    expect(done.stdout).toMatch(/shop\.items\s+full\s+committed\s+20k\s+[\d.]+ (B|KiB)\s+-\s+\S+/)
    const log = await CommitLog.open(join(dir, 'lake'))
    expect([...log.activeFiles().values()].reduce((n, f) => n + f.rows, 0)).toBe(20000)
    const runs = await new RunHistory(join(dir, 'lake')).runs('export:shop')
    expect(runs).toHaveLength(1)
    expect(runs[0]).toMatchObject({ trigger: 'manual', status: 'succeeded', rows: 20000 })
  }, 300_000)

  it('on SIGTERM mid-export records the run failed (shutdown) and releases its lock before the process exits', async () => {
    const { client, schema } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.items (id int, payload text)`)
    await client.query(`INSERT INTO ${schema}.items SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g`)
    const proxy = await faultProxy({ host: '127.0.0.1', port: 5432 })
    const dir = await tempDir()
    const file = await writeConfig(dir, proxy.port, schema, [{ name: 'items', mode: 'full' }], { stopGraceMs: 2000 })
    proxy.stallAfter(300_000)
    const child = spawn(process.execPath, [bin, '--config', file, '--log-level', 'silent', 'export', 'shop'], { stdio: ['ignore', 'pipe', 'pipe'] })
    onTestFinished(() => void child.kill('SIGKILL'))
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    await proxy.fired()
    const lake = join(dir, 'lake')
    const [running] = await new RunHistory(lake).runs('export:shop')
    expect(running).toMatchObject({ status: 'running' })
    child.kill('SIGTERM')
    expect(await exited).toBe(143)
    expect(await new RunHistory(lake).get('export:shop', running!.runId)).toMatchObject({ status: 'failed', error: { code: 'JOB_FAILED', context: { reason: 'shutdown' } } })
    expect(await new JobLocks({ lakeRoot: lake, leaseMs: 60_000 }).read('export:shop')).toBeUndefined()
  }, 300_000)

  it('prints the summary and exits 1 naming the failed table and the cause when the source dies mid-table; top-level errors are `code: message`', async () => {
    const { client, schema } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.brands (id int, name text); INSERT INTO ${schema}.brands VALUES (1, 'a'), (2, 'b')`)
    await client.query(`CREATE TABLE ${schema}.orders (id int, payload text)`)
    await client.query(`INSERT INTO ${schema}.orders SELECT g, repeat('y', 100) FROM generate_series(1, 20000) g`)
    const proxy = await faultProxy({ host: '127.0.0.1', port: 5432 })
    const dir = await tempDir()
    const file = await writeConfig(dir, proxy.port, schema, [{ name: 'brands', mode: 'full' }, { name: 'orders', mode: 'full' }])
    const unknown = coldpipe(['--config', file, 'export', 'nowhere'])
    const usage = coldpipe(['--config', file, 'export'])
    // orders' COPY is cut part way and the database stays unreachable.
    proxy.cutAfter(400_000)
    void proxy.fired().then(() => proxy.down())
    const run = await coldpipe(['--config', file, '--log-level', 'silent', 'export', 'shop']).exited
    expect(run.code).toBe(1)
    expect(run.stdout).toMatch(/shop\.brands\s+full\s+committed\s+2/)
    expect(run.stdout).toMatch(/shop\.orders\s+full\s+failed\s+.*SOURCE_/)
    expect(run.stderr).toMatch(/^coldpipe: SOURCE_[A-Z_]+: export of shop: 1 of 2 tables failed: orders \(SOURCE_[A-Z_]+: .+\)/m)
    expect(run.stderr).not.toMatch(noStack)
    const [record] = await new RunHistory(join(dir, 'lake')).runs('export:shop')
    expect(record).toMatchObject({ status: 'failed', trigger: 'manual', error: { context: { failed: ['orders'], committed: ['brands'] } } })

    const refused = await unknown.exited
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/^coldpipe: SOURCE_UNKNOWN: .*sources\.nowhere/m)
    expect(refused.stderr).not.toMatch(noStack)
    const wrong = await usage.exited
    expect(wrong.code).toBe(1)
    expect(wrong.stderr).toMatch(/^coldpipe: REQUEST_INVALID: missing required argument 'source'/m)
  }, 300_000)
})
