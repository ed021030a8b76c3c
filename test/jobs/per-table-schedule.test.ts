import { describe, expect, it, onTestFinished } from 'vitest'
import { parseConfig } from '../../cli/config/index.ts'
import { silentLogger } from '../../core/logger.ts'
import { buildJobsFromConfig, describeJobsFromConfig } from '../../cli/build-jobs.ts'
import { loadStageDeps } from '../../cli/stage-deps.ts'
import { startScheduler } from '../../jobs/index.ts'
import { CommitLog } from '../../lake/index.ts'
import { postgresSchema } from '../helpers/databases.ts'
import { tempDir } from '../helpers/temp-dir.ts'

describe('export schedules per table', () => {
  it('gives a table with its own schedule a job of its own, which the source job leaves out', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.orders (id int primary key, updated_at timestamptz not null); INSERT INTO ${schema}.orders SELECT g, now() FROM generate_series(1, 40) g`)
    await client.query(`CREATE TABLE ${schema}.brands (id int primary key, name text); INSERT INTO ${schema}.brands SELECT g, 'b' || g FROM generate_series(1, 7) g`)
    const dir = await tempDir()
    const config = parseConfig(
      {
        lake: './lake',
        warehouse: './warehouse',
        sources: { shop: { kind: 'postgres', url, schema } },
        exports: [
          {
            source: 'shop',
            schedule: '0 2 * * *',
            timezone: 'Europe/Berlin',
            tables: [
              { name: 'orders', mode: 'incremental', cursor: 'updated_at', key: ['id'], schedule: '*/15 * * * *' },
              { name: 'brands' },
            ],
          },
        ],
      },
      { origin: 'test', baseDir: dir, env: {} },
    )
    expect(describeJobsFromConfig(config).filter((j) => j.kind === 'export')).toEqual([
      { id: 'export:shop', kind: 'export', source: 'shop', tables: ['brands'], schedule: { cron: '0 2 * * *', timezone: 'Europe/Berlin' } },
      { id: 'export:shop.orders', kind: 'export', source: 'shop', tables: ['orders'], schedule: { cron: '*/15 * * * *', timezone: 'Europe/Berlin' } },
    ])

    const closers: (() => Promise<void> | void)[] = []
    onTestFinished(async () => {
      for (const close of closers.reverse()) await close()
    })
    const deps = await loadStageDeps(config, silentLogger, (close) => closers.push(close))
    const scheduler = await startScheduler({ jobs: buildJobsFromConfig(config, deps), lakeRoot: config.lake, config: { ...config.jobs, catchUpOnStart: false }, schedule: false })
    closers.push(() => scheduler.close())

    const tablesInLake = async () => new Set([...(await CommitLog.open(config.lake)).activeFiles().values()].map((f) => f.table))
    expect(await scheduler.runNow('export:shop.orders')).toMatchObject({ status: 'succeeded', rows: 40 })
    expect(await tablesInLake()).toEqual(new Set(['orders']))
    expect(await scheduler.runNow('export:shop')).toMatchObject({ status: 'succeeded', rows: 7 })
    expect(await tablesInLake()).toEqual(new Set(['orders', 'brands']))
    // A backfill needs both ends of the cursor range; the run fails with a coded error naming the missing one.
    const halfRange = await scheduler.runNow('export:shop.orders', { cursorRange: { from: '2026-01-01' } })
    expect(halfRange).toMatchObject({ status: 'failed', error: { code: 'JOB_OPTIONS_INVALID' } })
    expect(halfRange.error?.message).toMatch(/from and to/)
  })

  it('names the table whose schedule is not a valid cron expression', async () => {
    const dir = await tempDir()
    // Caught when the config loads, with every other problem, rather than when the jobs are built.
    const load = () => parseConfig(
      { lake: './lake', warehouse: './wh', sources: { shop: { kind: 'postgres', url: 'postgres://x@127.0.0.1/x' } }, exports: [{ source: 'shop', tables: [{ name: 'a' }, { name: 'b', schedule: 'every night' }] }] },
      { origin: 'test', baseDir: dir, env: {} },
    )
    expect(load).toThrow(/exports\[0\]\.tables\[1\]\.schedule/)
  })
})
