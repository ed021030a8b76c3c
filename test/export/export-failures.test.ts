import { spawn } from 'node:child_process'
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { createLogger } from '../../core/logger.ts'
import { CommitLog } from '../../lake/index.ts'
import { postgresSchema } from '../helpers/databases.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { testExporter } from './export-fixtures.ts'

describe('export failures', () => {
  it('a process killed mid-table leaves nothing visible, and the rerun of the same run completes exactly', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.rows (id bigint, payload text)`)
    await client.query(`INSERT INTO ${schema}.rows SELECT g, repeat('x', 200) FROM generate_series(1, 400000) g`)
    const lake = await tempDir()
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'export-child.ts'), url, schema, lake, 'crash'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    const exited = new Promise((resolve) => child.on('exit', resolve))
    await waitFor(() => out.includes('export chunk written'), { timeoutMs: 60_000, message: 'child never wrote a chunk' })
    expect(out).not.toContain('"done"')
    child.kill('SIGKILL')
    await exited

    const log = await CommitLog.open(lake)
    expect(log.findByKey('export:crash:big.rows')).toBeUndefined()
    expect(log.activeFiles().size).toBe(0)

    const exporter = testExporter({ sources: { big: { kind: 'postgres', url, schema } }, lakeRoot: lake })
    const [record] = await exporter.runExport({ source: 'big', timezone: 'UTC', tables: [{ name: 'rows', mode: 'full', lagSeconds: 0, chunkRows: 20_000 }] }, { runId: 'crash' })
    expect(record).toMatchObject({ status: 'committed', rows: 400000 })
    await log.refresh()
    const files = [...log.activeFiles().values()]
    expect(files.reduce((n, f) => n + f.rows, 0)).toBe(400000)
    // The rerun rewrote the same paths: no extra parts beside the committed ones.
    const onDisk = await readdir(join(lake, 'raw/exports/big/rows/run=crash'))
    expect(onDisk.sort()).toEqual(files.map((f) => f.path.split('/').at(-1)).sort())
  }, 120_000)

  it('opens the breaker for a source that refuses connections, with backoff, while another source exports', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.ok (id int)`)
    await client.query(`INSERT INTO ${schema}.ok VALUES (1), (2)`)
    const lake = await tempDir()
    const records: Record<string, unknown>[] = []
    const logger = createLogger({
      level: 'warn',
      destination: new Writable({ write: (chunk, _e, done) => (records.push(JSON.parse(String(chunk))), done()) }),
    })
    const tiny = { retryMaxAttempts: 5, retryInitialDelayMs: 5, retryMaxDelayMs: 50, breakerFailureThreshold: 3, breakerHalfOpenAfterMs: 60_000, connectTimeoutMs: 1_000 }
    const exporter = testExporter({
      sources: { down: { kind: 'postgres', url: 'postgres://postgres@127.0.0.1:1/test', ...tiny }, up: { kind: 'postgres', url, schema, ...tiny } },
      lakeRoot: lake,
      logger,
    })
    const [downResult, upResult] = await Promise.all([
      exporter.runExport({ source: 'down', timezone: 'UTC', tables: [{ name: 'x', mode: 'full', lagSeconds: 0, chunkRows: 10 }] }, { runId: 'b1' }),
      exporter.runExport({ source: 'up', timezone: 'UTC', include: ['ok'] }, { runId: 'b1' }),
    ])
    expect(upResult[0]).toMatchObject({ table: 'ok', status: 'committed', rows: 2 })
    expect(downResult[0]).toMatchObject({ table: 'x', status: 'failed', error: { code: 'SOURCE_CIRCUIT_OPEN' } })
    const retries = records.filter((r) => r.msg === 'source down attempt failed, retrying' && r.source === 'down')
    expect(retries.length).toBeGreaterThanOrEqual(3)
    expect(retries.every((r) => typeof r.delayMs === 'number')).toBe(true)
    const health = exporter.getSourceHealth()
    expect(health.find((h) => h.source === 'up')).toMatchObject({ state: 'closed' })
    expect(health.find((h) => h.source === 'down')).toMatchObject({ state: 'open', lastError: { code: 'SOURCE_CONNECT_FAILED' } })
    expect(health.find((h) => h.source === 'down')?.lastError?.at).toBeTypeOf('string')
    // The breaker state is recorded in the lake, so `coldpipe status` in another process sees it.
    expect(JSON.parse(await readFile(join(lake, '_state', 'health', 'down.json'), 'utf8'))).toMatchObject({ state: 'open' })
    // While open, a run fails at once without touching the source.
    const [again] = await exporter.runExport({ source: 'down', timezone: 'UTC', tables: [{ name: 'x', mode: 'full', lagSeconds: 0, chunkRows: 10 }] })
    expect(again?.error?.code).toBe('SOURCE_CIRCUIT_OPEN')
    expect((await readdir(join(lake, '_state', 'export-runs', 'b1'))).sort()).toEqual(['down.x.json', 'up.ok.json'])
  })
})
