import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../cli/config/index.ts'
import { silentLogger } from '../../core/logger.ts'
import { buildJobsFromConfig, describeJobsFromConfig } from '../../cli/build-jobs.ts'
import { collectStatus, createAlerter, JobRunner, renderStatus } from '../../jobs/index.ts'
import { loadStageDeps } from '../../cli/stage-deps.ts'
import { CommitLog } from '../../lake/index.ts'
import { changeRowsSql, commitChanges } from '../helpers/lake-fixtures.ts'
import { httpCapture } from '../helpers/http-capture.ts'
import { tempDir } from '../helpers/temp-dir.ts'

const root = new URL('../..', import.meta.url).pathname
const run = promisify(execFile)

async function world() {
  const dir = await tempDir()
  const hook = await httpCapture()
  const configFile = join(dir, 'coldpipe.yaml')
  await writeFile(configFile, [
    'lake: ./lake',
    'warehouse:',
    '  path: ./warehouse',
    '  maintenance: { compaction: { minFiles: 2 }, retention: { graceMs: 0 } }',
    'jobs:',
    '  compaction: { schedule: "*/15 * * * *" }',
    '  retention: { schedule: "*/30 * * * *" }',
    `  alertWebhookUrl: "${hook.url}"`,
    '',
  ].join('\n'))
  const config = loadConfig(configFile)
  for (const table of ['orders', 'payments']) {
    for (let b = 0; b < 5; b++) {
      await commitChanges(config.lake, { service: 'ordering', table, key: ['id'], topic: `shop.public.${table}`, firstOffset: b * 10, lastOffset: b * 10 + 9,
        selectSql: changeRowsSql({ id: 'INTEGER' }, Array.from({ length: 10 }, (_, i) => ({ values: { id: b * 10 + i }, op: 'c' as const, sourcePos: b * 10 + i, offset: b * 10 + i }))) })
    }
  }
  const deps = await loadStageDeps(config, silentLogger, () => undefined)
  const jobs = buildJobsFromConfig(config, deps)
  const runner = new JobRunner({ lakeRoot: config.lake, retry: { maxAttempts: 0, initialDelayMs: 1, maxDelayMs: 1 }, lockLeaseMs: 60_000, owner: 'test',
    alert: createAlerter({ logger: silentLogger, webhookUrl: hook.url, timeoutMs: 5000 }) })
  const job = (id: string) => jobs.find((j) => j.id === id)!
  const status = async () => collectStatus({ lakeRoot: config.lake, warehousePath: config.warehouse.path, jobs: describeJobsFromConfig(config), sources: [] })
  return { configFile, config, hook, runner, job, status }
}

describe('maintenance as jobs', () => {
  it('a failing compaction is a failed run with an alert; status shows file counts per table and the last maintenance results', { timeout: 300_000 }, async () => {
    const { configFile, config, hook, runner, job, status } = await world()
    // One input of ordering.payments is unreadable: the run fails naming it, yet both tables' readable files compact.
    const log = await CommitLog.open(config.lake)
    const broken = [...log.activeFiles().values()].find((f) => f.table === 'payments')!
    const original = await readFile(log.layout.absolute(broken.path))
    await writeFile(log.layout.absolute(broken.path), 'not parquet at all')

    const failed = await runner.run(job('compaction'), { trigger: 'schedule' })
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'LAKE_FILE_CORRUPT' } })
    expect(failed!.error!.message).toContain('ordering.payments')
    expect(failed!.error!.message).toContain(broken.path)
    const alerts = hook.requests.map((r) => JSON.parse(r.body))
    expect(alerts).toEqual([expect.objectContaining({ type: 'job.failed', job: 'compaction', runId: failed!.runId, error: expect.objectContaining({ code: 'LAKE_FILE_CORRUPT' }) })])

    let report = await status()
    expect(report.jobs.find((j) => j.id === 'compaction')).toMatchObject({ failing: true })
    expect(report.maintenance.tables).toEqual([
      { table: 'ordering.orders', activeFiles: 1, bytes: expect.any(Number) },
      { table: 'ordering.payments', activeFiles: 2, bytes: expect.any(Number) },
    ])
    expect(report.maintenance.compaction).toMatchObject({ status: 'failed', error: { code: 'LAKE_FILE_CORRUPT', context: { path: broken.path, table: 'ordering.payments' } } })
    expect(renderStatus(report)).toMatch(/compaction {2}FAILED .*LAKE_FILE_CORRUPT compaction failed for 1 of 2 tables: ordering\.payments .*cannot be read/)

    // The file restored, the next run succeeds and alerts the recovery.
    await writeFile(log.layout.absolute(broken.path), original)
    const recovered = await runner.run(job('compaction'), { trigger: 'schedule' })
    expect(recovered).toMatchObject({ status: 'succeeded' })
    expect(hook.requests.map((r) => JSON.parse(r.body).type)).toEqual(['job.failed', 'job.recovered'])
    expect(await runner.run(job('retention'), { trigger: 'schedule' })).toMatchObject({ status: 'succeeded' })
    report = await status()
    expect(report.maintenance.tables.map((t) => [t.table, t.activeFiles])).toEqual([['ordering.orders', 1], ['ordering.payments', 1]])
    expect(report.maintenance.compaction).toMatchObject({ status: 'succeeded', summary: { tablesCompacted: 1, filesIn: 2, filesOut: 1 } })
    expect(report.maintenance.retention).toMatchObject({ status: 'succeeded', summary: { lakeFilesRemoved: 11 } })

    // `coldpipe status` prints the same in a child process.
    const { stdout } = await run(process.execPath, [join(root, 'bin/coldpipe.mjs'), '--config', configFile, 'status'], { cwd: root })
    expect(stdout).toMatch(/compaction {2}succeeded .*1 tables, 2 files merged into 1/)
    expect(stdout).toMatch(/retention {3}succeeded .*removed 11 replaced files/)
    expect(stdout).toMatch(/^ordering\.orders +1 +\d+$/m)
    expect(stdout).toMatch(/^ordering\.payments +1 +\d+$/m)
  })
})
