import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../cli/config/index.ts'
import { ColdpipeError } from '../../core/errors.ts'
import { describeJobsFromConfig } from '../../cli/build-jobs.ts'
import { tempDir } from '../helpers/temp-dir.ts'

async function problemsOf(doc: unknown): Promise<{ path: string; reason: string }[]> {
  const file = join(await tempDir(), 'coldpipe.yaml')
  await writeFile(file, JSON.stringify(doc))
  try {
    loadConfig(file)
  } catch (error) {
    expect(error).toBeInstanceOf(ColdpipeError)
    expect((error as ColdpipeError).code).toBe('CONFIG_INVALID')
    const problems = (error as ColdpipeError).context.problems as { path: string; reason: string }[]
    // The message lists each problem on its own line with its path.
    for (const p of problems) expect((error as ColdpipeError).message).toContain(`  ${p.path}: ${p.reason}`)
    return problems
  }
  throw new Error('the config loaded')
}

const source = { kind: 'postgres', url: 'postgres://u@127.0.0.1/db' }

describe('loading a config reports every problem at once', () => {
  it('a bad cron, a bad timezone and a bad publish cron: one error, three paths (they used to take three runs)', async () => {
    const problems = await problemsOf({
      lake: './lake',
      warehouse: './warehouse',
      sources: { shop: source },
      exports: [{ source: 'shop', schedule: '0 2 * *', timezone: 'Europe/Berlinn', tables: [{ name: 'orders', schedule: '61 * * * *', timezone: 'UTC' }] }],
      jobs: { publish: { schedule: 'nightly' }, retention: { schedule: '30 3 * * *', timezone: 'Mars/Olympus' } },
    })
    expect(problems.map((p) => p.path)).toEqual(['exports[0].schedule', 'exports[0].timezone', 'exports[0].tables[0].schedule', 'jobs.publish.schedule', 'jobs.retention.timezone'])
    expect(problems[1]!.reason).toContain('"Europe/Berlinn" is not an IANA time zone')
  })

  it('schema errors, schedule errors and reference errors together', async () => {
    const problems = await problemsOf({
      lake: './lake',
      warehouse: { path: './warehouse', pii: [{ column: 'shop.users.email', action: 'hash' }] },
      sources: { shop: { ...source, maxConnections: 0 } },
      exports: [
        { source: 'shop', schedule: '* * *', tables: [{ name: 'orders', mode: 'incremental' }] },
        { source: 'shop', tables: [] },
      ],
      jobs: { publish: { schedule: '0 6 * * *', timezone: 'Nowhere' } },
    })
    const paths = problems.map((p) => p.path)
    expect(paths).toEqual(expect.arrayContaining(['sources.shop.maxConnections', 'exports[0].schedule', 'jobs.publish.timezone']))
    // References need a document that passes the schema; fixed, they show up with the schedules.
    const again = await problemsOf({
      lake: './lake',
      warehouse: { path: './warehouse', pii: [{ column: 'shop.users.email', action: 'hash' }] },
      sources: { shop: source },
      exports: [
        { source: 'shop', schedule: '* * *', tables: [{ name: 'orders', mode: 'incremental' }] },
        { source: 'shop', tables: [] },
        { source: 'billing' },
      ],
      jobs: { publish: { schedule: '0 6 * * *', timezone: 'Nowhere' } },
    })
    expect(again.map((p) => p.path).sort()).toEqual(
      ['exports[0].schedule', 'jobs.publish.timezone', 'exports[0].tables[0].cursor', 'exports[0].tables[0].key', 'exports[1].source', 'exports[2].source', 'warehouse.pii'].sort(),
    )
  })

  it('a table listed twice in one export, a name repeated in key or columns, and a key or cursor left out of columns are named (they failed at export time)', async () => {
    const problems = await problemsOf({
      lake: './lake',
      warehouse: './warehouse',
      sources: { shop: source },
      exports: [{ source: 'shop', tables: [
        { name: 'orders', mode: 'full', key: ['id', 'id'] },
        { name: 'items', mode: 'full', columns: ['id', 'name', 'id'] },
        { name: 'orders', mode: 'full' },
        { name: 'lines', mode: 'incremental', key: ['order_id', 'line'], cursor: 'updated_at', columns: ['order_id', 'qty'] },
      ] }],
    })
    expect(problems).toEqual([
      { path: 'exports[0].tables[0].key', reason: 'names id more than once' },
      { path: 'exports[0].tables[1].columns', reason: 'names id more than once' },
      { path: 'exports[0].tables[2].name', reason: 'table orders is already exports[0].tables[0]; one entry per table' },
      { path: 'exports[0].tables[3].columns', reason: 'leaves out line, updated_at, which key or cursor names; add them' },
    ])
  })

  it('a topic mapped twice and an API key given twice are named (the second topic entry silently replaced the first; a request matched the first key)', async () => {
    const problems = await problemsOf({
      lake: './lake',
      warehouse: './warehouse',
      sources: { shop: source },
      exports: [],
      changes: {
        brokers: ['127.0.0.1:9092'],
        groupId: 'g',
        topics: [
          { topic: 'shop.public.orders', format: 'debezium', service: 'shop', table: 'orders_cdc', key: ['id'] },
          { topic: 'shop.public.orders', format: 'debezium', service: 'shop', table: 'orders_copy', key: ['id'] },
        ],
      },
      api: { apiKeys: [{ key: 'secret-key-000001', name: 'reader' }, { key: 'secret-key-000001', name: 'admin', sql: true }] },
    })
    expect(problems).toEqual([
      { path: 'changes.topics[1].topic', reason: 'topic shop.public.orders is already changes.topics[0]; one entry per topic' },
      { path: 'api.apiKeys[1].key', reason: 'is the key of api.apiKeys[0] (reader); give each key its own secret' },
    ])
  })

  it('a valid config still loads, and its jobs describe without error', async () => {
    const file = join(await tempDir(), 'coldpipe.yaml')
    await writeFile(file, JSON.stringify({ lake: './lake', warehouse: './w', sources: { shop: source }, exports: [{ source: 'shop', schedule: '0 2 * * *', timezone: 'Europe/Berlin' }], jobs: { publish: { schedule: '0 6 * * *' } } }))
    const config = loadConfig(file)
    expect(describeJobsFromConfig(config).map((j) => j.id)).toEqual(['export:shop', 'publish', 'compaction', 'retention'])
  })
})

describe('missing environment variables', () => {
  it('are named together, each with the field that uses it', async () => {
    const file = join(await tempDir(), 'coldpipe.yaml')
    await writeFile(file, 'lake: ${LAKE_DIR}\nwarehouse: ./w\nsources:\n  shop: { kind: postgres, url: "${SHOP_URL}" }\n')
    let error: unknown
    try {
      loadConfig(file, {})
    } catch (caught) {
      error = caught
    }
    expect(error).toMatchObject({ code: 'CONFIG_ENV_MISSING', message: 'environment variables LAKE_DIR (used by lake), SHOP_URL (used by sources.shop.url) are not set' })
  })
})
