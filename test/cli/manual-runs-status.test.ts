import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { CheckReport } from '../../cli/check/index.ts'
import type { StatusReport } from '../../jobs/index.ts'
import { postgresSchema } from '../helpers/databases.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { coldpipe, coldpipeProcess } from './cli-process.ts'

async function writeConfig(dir: string, doc: Record<string, unknown>): Promise<string> {
  const file = join(dir, 'coldpipe.yaml')
  await writeFile(file, JSON.stringify({ lake: './lake', warehouse: './warehouse', ...doc }))
  return file
}

const quiet = ['--log-level', 'silent']

describe('runs started by hand, and honest status, start and serve', () => {
  it('status shows manual exports and publishes as the last runs of their jobs', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.orders (id int PRIMARY KEY, updated_at timestamptz NOT NULL DEFAULT now())`)
    await client.query(`INSERT INTO ${schema}.orders (id) SELECT g FROM generate_series(1, 25) g`)
    const dir = await tempDir()
    const file = await writeConfig(dir, {
      sources: { shop: { kind: 'postgres', url, schema } },
      exports: [{ source: 'shop', tables: [{ name: 'orders', mode: 'incremental', cursor: 'updated_at', key: ['id'] }] }],
    })
    for (let i = 0; i < 2; i++) expect((await coldpipe(['--config', file, ...quiet, 'export', 'shop'])).code).toBe(0)
    const published = await coldpipe(['--config', file, ...quiet, 'publish'])
    expect(published.stdout).toBe('published snapshot 1 (lake version 1)\n')

    const status = JSON.parse((await coldpipe(['--config', file, ...quiet, 'status', '--json'])).stdout) as StatusReport
    const exportJob = status.jobs.find((j) => j.id === 'export:shop')!
    expect(exportJob.lastRun).toMatchObject({ trigger: 'manual', status: 'succeeded', rows: 0 })
    expect(exportJob.lastSuccessAt).toBeTruthy()
    expect(status.jobs.find((j) => j.id === 'publish')!.lastRun).toMatchObject({ trigger: 'manual', status: 'succeeded' })
    expect(status.lake.empty).toBe(false)

    const text = (await coldpipe(['--config', file, ...quiet, 'status'])).stdout
    expect(text).toMatch(/^export:shop\s+manual\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \(manual\)\s+succeeded\s+0\s+1/m)
    expect(text).toMatch(/^publish\s+manual\s+\S+ \S+ \(manual\)\s+succeeded/m)

    // check opens what the runs made: the lake's log and the published snapshot.
    const check = JSON.parse((await coldpipe(['--config', file, ...quiet, 'check', '--json'])).stdout) as CheckReport
    expect(check.results.find((r) => r.subject === 'lake' && r.check === 'format')).toMatchObject({ status: 'ok', message: 'lake version 1 readable' })
    expect(check.results.find((r) => r.subject === 'warehouse' && r.check === 'snapshot')).toMatchObject({ status: 'ok', message: expect.stringMatching(/^current snapshot #1 opens/) })
  }, 120_000)

  it('status on an empty lake says the lake is empty, never "lake version -1"', async () => {
    const dir = await tempDir()
    const file = await writeConfig(dir, {})
    const run = await coldpipe(['--config', file, ...quiet, 'status'])
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/^lake\s+empty: nothing exported or ingested yet/m)
    expect(run.stdout).toMatch(/^snapshot\s+none published yet$/m)
    expect(run.stdout).not.toMatch(/version -1/)
    const json = JSON.parse((await coldpipe(['--config', file, ...quiet, 'status', '--json'])).stdout) as StatusReport
    expect(json.lake.empty).toBe(true)
  }, 60_000)

  it('start warns when nothing will ever publish, and not when publish has a schedule', async () => {
    const dir = await tempDir()
    await mkdir(join(dir, 'reports'))
    const unscheduled = await writeConfig(dir, {})
    const start = coldpipeProcess(['--config', unscheduled, ...quiet, 'start', '--port', '0'])
    await waitFor(() => /pipeline running/.test(start.stderr()) && /^coldpipe: warning: jobs\.publish has no schedule/m.test(start.stderr()), { timeoutMs: 60_000, message: 'start to warn' })
    expect(start.stderr()).toContain('set jobs.publish.schedule')
    start.kill('SIGTERM')
    expect((await start.exited).code).toBe(143)

    const other = await tempDir()
    await mkdir(join(other, 'reports'))
    const scheduled = await writeConfig(other, { jobs: { publish: { schedule: '0 6 * * *', timezone: 'UTC' } } })
    const quietStart = coldpipeProcess(['--config', scheduled, ...quiet, 'start', '--port', '0'])
    await waitFor(() => /^ {2}retention /m.test(quietStart.stderr()), { timeoutMs: 60_000, message: 'start to list its jobs' })
    quietStart.kill('SIGTERM')
    const ended = await quietStart.exited
    expect(ended.stderr).not.toContain('warning')
  }, 150_000)

  it('serve refuses a missing reports folder with a coded error naming it', async () => {
    const dir = await tempDir()
    const file = await writeConfig(dir, { reports: './my-reports' })
    const run = await coldpipe(['--config', file, ...quiet, 'serve', '--port', '0'])
    expect(run.code).toBe(1)
    expect(run.stderr).toBe(`coldpipe: CONFIG_INVALID: ${file}: reports: folder ${join(dir, 'my-reports')} does not exist; create it (one .sql file per report) or set \`reports\` to the folder of your reports\n`)
    expect(run.stdout).toBe('')
  }, 60_000)
})
