import { describe, expect, it } from 'vitest'
import { buildJobsFromConfig, describeJobsFromConfig } from '../../cli/build-jobs.ts'
import { parseConfig } from '../../cli/config/index.ts'
import { postgresSchema } from '../helpers/databases.ts'
import { pipeline, sourceConfig } from './reconcile-fixtures.ts'

const base = { lake: '/tmp/l', warehouse: '/tmp/w', sources: { shop: { kind: 'postgres', url: 'postgres://x@h/db' } } }

describe('the reconcile job in config', () => {
  it('is scheduled from jobs.reconcile, listed only when configured, and a bad field is named', () => {
    const config = parseConfig({ ...base, jobs: { reconcile: { schedule: '30 4 * * *', replicaUrls: { shop: 'postgres://r@replica/db' } } } }, { origin: 'test', baseDir: '/' })
    expect(config.jobs.reconcile).toMatchObject({ lagSeconds: 60, segments: 1024, replicaUrls: { shop: 'postgres://r@replica/db' } })
    expect(describeJobsFromConfig(config).find((j) => j.id === 'reconcile')).toEqual({ id: 'reconcile', kind: 'reconcile', schedule: { cron: '30 4 * * *', timezone: 'UTC' } })
    expect(buildJobsFromConfig(config, {}).map((j) => j.id)).toContain('reconcile')
    expect(describeJobsFromConfig(parseConfig({ ...base }, { origin: 'test', baseDir: '/' })).map((j) => j.id)).not.toContain('reconcile')

    expect(() => parseConfig({ ...base, jobs: { reconcile: { segmnts: 10 } } }, { origin: 'test', baseDir: '/' })).toThrow(/jobs\.reconcile/)
    const badCron = parseConfig({ ...base, jobs: { reconcile: { schedule: '99 * * * *' } } }, { origin: 'test', baseDir: '/' })
    expect(() => describeJobsFromConfig(badCron)).toThrow(/jobs\.reconcile\.schedule/)
  })

  it('reads from the replica URL when one is configured', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.items (id int PRIMARY KEY, name text)`)
    await client.query(`INSERT INTO ${schema}.items SELECT g, 'n' || g FROM generate_series(1, 1000) g`)
    const p = await pipeline({ shop: sourceConfig('postgres', url, schema) }, [{ source: 'shop', timezone: 'UTC', tables: [{ name: 'items', mode: 'full', key: ['id'], lagSeconds: 0, chunkRows: 1000 }] }])
    await p.load()
    // The primary is now unreachable: only a read through the replica URL can succeed.
    p.sources.shop = { ...p.sources.shop!, url: 'postgres://postgres@127.0.0.1:1/test', retryMaxAttempts: 0 }
    const failing = (await p.reconcile()).results[0]!
    expect(failing).toMatchObject({ status: 'error', error: { code: 'SOURCE_CONNECT_FAILED' } })
    const r = (await p.reconcile({ replicaUrls: { shop: url } })).results[0]!
    expect(r).toMatchObject({ status: 'match', compared: { replica: true }, counts: { sourceRows: 1000 } })
  }, 120_000)
})
