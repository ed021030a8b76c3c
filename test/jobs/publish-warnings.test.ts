import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../cli/config/index.ts'
import { silentLogger } from '../../core/logger.ts'
import { buildJobsFromConfig } from '../../cli/build-jobs.ts'
import { createAlerter, JobRunner } from '../../jobs/index.ts'
import { loadStageDeps } from '../../cli/stage-deps.ts'
import { CommitLog } from '../../lake/index.ts'
import { corruptMiddle } from '../helpers/corrupt-file.ts'
import { httpCapture } from '../helpers/http-capture.ts'
import { commitChanges, commitExport } from '../helpers/lake-fixtures.ts'
import { tempDir } from '../helpers/temp-dir.ts'

/** Change rows with incompressible text, so the file has many pages for corruptMiddle to damage. */
function orderChanges(first: number, count: number): string {
  return `SELECT (${first} + range)::INT AS id, md5(range::VARCHAR) || md5((range + 1)::VARCHAR) AS status, 'c' AS _cp_op, false AS _cp_deleted,
    lpad((${first} + range)::VARCHAR, 20, '0') AS _cp_source_pos, (${first} + range)::BIGINT AS _cp_offset FROM range(${count})`
}

describe('a publish that quarantines a file', () => {
  it('succeeds, records a warning naming the file, and alerts job.warning once (not again on later publishes)', { timeout: 300_000 }, async () => {
    const dir = await tempDir()
    const hook = await httpCapture()
    const configFile = join(dir, 'coldpipe.yaml')
    await writeFile(configFile, ['lake: ./lake', 'warehouse: ./warehouse', 'jobs:', '  publish: { schedule: "0 * * * *" }', `  alertWebhookUrl: "${hook.url}"`, ''].join('\n'))
    const config = loadConfig(configFile)
    await commitExport(config.lake, { service: 'catalog', table: 'items', mode: 'full', parts: ['SELECT range::INT AS id FROM range(3)'] })
    const bad = await commitChanges(config.lake, { service: 'ordering', table: 'orders', key: ['id'], firstOffset: 0, lastOffset: 19_999, selectSql: orderChanges(0, 20_000) })
    const badPath = bad.add[0]!.path
    await corruptMiddle(new CommitLog(config.lake).layout.absolute(badPath))

    const deps = await loadStageDeps(config, silentLogger, () => undefined)
    const publishJob = buildJobsFromConfig(config, deps).find((j) => j.id === 'publish')!
    const runner = new JobRunner({ lakeRoot: config.lake, retry: { maxAttempts: 0, initialDelayMs: 1, maxDelayMs: 1 }, lockLeaseMs: 60_000, owner: 'test',
      alert: createAlerter({ logger: silentLogger, webhookUrl: hook.url, timeoutMs: 5000 }) })

    const first = await runner.run(publishJob, { trigger: 'manual' })
    expect(first).toMatchObject({ status: 'succeeded', warnings: [expect.objectContaining({ code: 'LAKE_FILE_CORRUPT', context: { path: badPath, table: 'ordering.orders' } })] })
    const alerts = () => hook.requests.map((r) => JSON.parse(r.body) as { type: string; warnings?: { message: string }[] })
    expect(alerts()).toEqual([expect.objectContaining({ type: 'job.warning', job: 'publish' })])
    expect(alerts()[0]!.warnings![0]!.message).toContain(badPath)

    // The table stays stale until re-landed, but the file was quarantined once: no second alert.
    await commitExport(config.lake, { service: 'catalog', table: 'items', mode: 'full', parts: ['SELECT range::INT AS id FROM range(4)'] })
    const second = await runner.run(publishJob, { trigger: 'manual' })
    expect(second).toMatchObject({ status: 'succeeded' })
    expect(second?.warnings).toBeUndefined()
    expect(alerts()).toHaveLength(1)
  })
})
