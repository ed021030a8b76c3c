import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { ColdpipeError, isColdpipeError, messageOf } from '../../core/errors.ts'
import { collectStatus, RunHistory, startScheduler, type Job } from '../../jobs/index.ts'
import { readRecordedSourceHealth, SourceGuard } from '../../ingest/export/index.ts'
import { postgresUrl } from '../helpers/databases.ts'
import { tcpProxy } from '../helpers/tcp-proxy.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { jobsConfig } from './job-fixtures.ts'

const settings = { retryMaxAttempts: 1, retryInitialDelayMs: 10, retryMaxDelayMs: 20, breakerFailureThreshold: 3, breakerHalfOpenAfterMs: 300 }

/** Counts a table through Postgres at `port`, as an export would; connection failures become coded, retryable errors. */
async function countThrough(port: number, signal: AbortSignal): Promise<number> {
  const url = new URL(postgresUrl)
  url.port = String(port)
  const client = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 2000 })
  signal.addEventListener('abort', () => void client.end().catch(() => undefined), { once: true })
  try {
    await client.connect()
  } catch (cause) {
    throw new ColdpipeError('SOURCE_CONNECT_FAILED', `cannot connect to ordering at 127.0.0.1:${port}: ${messageOf(cause)}`, { cause, context: { source: 'ordering' } })
  }
  try {
    const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM generate_series(1, 17)')
    return rows[0]!.n
  } finally {
    await client.end().catch(() => undefined)
  }
}

describe('source guard: per-source retry and circuit breaker', () => {
  it('opens the breaker when Postgres becomes unreachable and closes it when it returns; other sources are unaffected', async () => {
    const lake = await tempDir()
    const proxy = await tcpProxy({ host: '127.0.0.1', port: Number(new URL(postgresUrl).port || 5432) })
    const guard = new SourceGuard({ sources: { ordering: settings, catalog: settings }, lakeRoot: lake })
    const exportJob: Job = {
      id: 'export:ordering',
      kind: 'export',
      source: 'ordering',
      run: async (ctx) => ({ rows: await guard.execute('ordering', ({ signal }) => countThrough(proxy.port, signal), ctx.signal) }),
    }
    const catalogJob: Job = { id: 'export:catalog', kind: 'export', source: 'catalog', run: async () => ({ rows: await guard.execute('catalog', async () => 5) }) }
    const scheduler = await startScheduler({ jobs: [exportJob, catalogJob], lakeRoot: lake, config: jobsConfig(), schedule: false })
    try {
      expect(await scheduler.runNow('export:ordering')).toMatchObject({ status: 'succeeded', rows: 17 })
      expect(guard.getSourceHealth().find((h) => h.source === 'ordering')?.state).toBe('closed')

      await proxy.down()
      // Each run makes two attempts; the third failed attempt opens the breaker, after which calls fail fast.
      const failures = [await scheduler.runNow('export:ordering'), await scheduler.runNow('export:ordering')]
      expect(failures.map((r) => r.status)).toEqual(['failed', 'failed'])
      expect(failures[0]!.error?.code).toBe('SOURCE_CONNECT_FAILED')
      expect(failures[1]!.error?.code).toBe('SOURCE_CIRCUIT_OPEN')
      const open = guard.getSourceHealth().find((h) => h.source === 'ordering')!
      expect(open).toMatchObject({ state: 'open', lastError: { code: 'SOURCE_CONNECT_FAILED' } })
      expect(open.openedAt).toBeDefined()

      // Another source keeps working while this one's breaker is open.
      expect(await scheduler.runNow('export:catalog')).toMatchObject({ status: 'succeeded', rows: 5 })
      const status = await collectStatus({ lakeRoot: lake, jobs: [exportJob, catalogJob], health: guard })
      expect(status.openBreakers).toEqual(['ordering'])
      // A status from another process reads the state this process recorded in the lake.
      await waitFor(async () => (await readRecordedSourceHealth(lake)).find((h) => h.source === 'ordering')?.state === 'open')
      expect((await collectStatus({ lakeRoot: lake, jobs: [] })).openBreakers).toEqual(['ordering'])

      await proxy.up()
      const recovered = await waitFor(
        async () => {
          const record = await scheduler.runNow('export:ordering')
          return record.status === 'succeeded' ? record : undefined
        },
        { timeoutMs: 15_000, intervalMs: 100, message: 'breaker closed again' },
      )
      expect(recovered.rows).toBe(17)
      expect(guard.getSourceHealth().find((h) => h.source === 'ordering')).toMatchObject({ state: 'closed', consecutiveFailures: 0 })
      await guard.close()
      expect((await readRecordedSourceHealth(lake)).find((h) => h.source === 'ordering')?.state).toBe('closed')
      const runs = await new RunHistory(lake).runs('export:ordering')
      expect(runs.some((r) => r.error?.code === 'SOURCE_CIRCUIT_OPEN')).toBe(true)
    } finally {
      await scheduler.close()
    }
  })

  it('does not count or retry errors that say retrying cannot help, and rejects unknown sources', async () => {
    const guard = new SourceGuard({ sources: { ordering: { ...settings, breakerFailureThreshold: 1 } } })
    let calls = 0
    const broken = () => guard.execute('ordering', async () => {
      calls++
      throw new ColdpipeError('EXPORT_TABLE_NOT_FOUND', 'table ordering.public.nope does not exist')
    })
    await expect(broken()).rejects.toSatisfy((e: unknown) => isColdpipeError(e, 'EXPORT_TABLE_NOT_FOUND'))
    await expect(broken()).rejects.toSatisfy((e: unknown) => isColdpipeError(e, 'EXPORT_TABLE_NOT_FOUND'))
    expect(calls).toBe(2)
    expect(guard.getSourceHealth()[0]!.state).toBe('closed')
    await expect(guard.execute('nope', async () => 1)).rejects.toSatisfy((e: unknown) => isColdpipeError(e, 'SOURCE_UNKNOWN'))
  })
})
