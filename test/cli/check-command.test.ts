import { randomUUID } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import type { CheckReport, CheckResult } from '../../cli/check/index.ts'
import { mysqlDatabase, postgresSchema } from '../helpers/databases.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { createTopic, testBroker } from '../ingest/fixtures/kafka.ts'
import { coldpipe } from './cli-process.ts'

/** The tables every case checks: one right, and one per kind of mistake. */
const tables = [
  // all fine: key is the primary key, cursor is a timestamp served by an index
  { name: 'orders', mode: 'incremental', cursor: 'updated_at', key: ['id'] },
  // the cursor column is called `changed` in the database
  { name: 'customers', mode: 'incremental', cursor: 'updated_at', key: ['id'] },
  // no index on the cursor, and the key is not unique
  { name: 'items', mode: 'incremental', cursor: 'modified_at', key: ['sku'] },
  // the key column does not exist
  { name: 'lines', mode: 'incremental', cursor: 'updated_at', key: ['line_id'] },
  { name: 'ghosts', mode: 'full' },
]

async function writeConfig(dir: string, source: Record<string, unknown>, extraTables: unknown[] = []): Promise<string> {
  await mkdir(join(dir, 'reports'))
  const file = join(dir, 'coldpipe.yaml')
  const config = {
    lake: './lake',
    warehouse: './warehouse',
    sources: { shop: source },
    // Three problems of three stages: all must show in one run.
    exports: [{ source: 'shop', schedule: 'every night', timezone: 'Mars/Olympus', tables: [...tables, ...extraTables] }],
    jobs: { publish: { schedule: '99 * * * *' } },
  }
  await writeFile(file, JSON.stringify(config))
  return file
}

function find(report: CheckReport, subject: string, check: string): CheckResult {
  const found = report.results.find((r) => r.subject === subject && r.check === check)
  if (!found) throw new Error(`no result ${subject} / ${check} in ${JSON.stringify(report.results, null, 1)}`)
  return found
}

/** Everything the shared table set must produce, whatever the database. */
function expectTableFindings(report: CheckReport): void {
  expect(find(report, 'config', 'exports[0].schedule')).toMatchObject({ status: 'fail', message: expect.stringContaining('"every night"') })
  expect(find(report, 'config', 'exports[0].timezone')).toMatchObject({ status: 'fail', message: expect.stringContaining('Mars/Olympus') })
  expect(find(report, 'config', 'jobs.publish.schedule')).toMatchObject({ status: 'fail' })
  expect(find(report, 'source shop', 'connect').status).toBe('ok')

  expect(find(report, 'shop.orders', 'exists').status).toBe('ok')
  expect(find(report, 'shop.orders', 'select').status).toBe('ok')
  expect(find(report, 'shop.orders', 'key')).toMatchObject({ status: 'ok', message: expect.stringContaining('primary key') })
  expect(find(report, 'shop.orders', 'cursor').status).toBe('ok')
  expect(find(report, 'shop.orders', 'cursor index').status).toBe('ok')

  const wrongCursor = find(report, 'shop.customers', 'cursor')
  expect(wrongCursor).toMatchObject({ status: 'fail', message: 'cursor column updated_at does not exist' })
  // The fix names the column that would do.
  expect(wrongCursor.fix).toContain('changed')

  expect(find(report, 'shop.items', 'cursor').status).toBe('ok')
  expect(find(report, 'shop.items', 'cursor index')).toMatchObject({ status: 'warn', fix: expect.stringMatching(/CREATE INDEX .*\(modified_at\)/) })
  expect(find(report, 'shop.items', 'key')).toMatchObject({ status: 'warn', fix: expect.stringContaining('(id)') })
  // A cursor that may be NULL: such rows are never read incrementally. orders' is NOT NULL.
  expect(find(report, 'shop.items', 'cursor nulls')).toMatchObject({ status: 'warn', message: expect.stringContaining('modified_at may be NULL'), fix: expect.stringContaining('NOT NULL') })
  expect(find(report, 'shop.lines', 'cursor nulls').status).toBe('warn')
  expect(report.results.some((r) => r.subject === 'shop.orders' && r.check === 'cursor nulls')).toBe(false)

  expect(find(report, 'shop.lines', 'key')).toMatchObject({ status: 'fail', message: 'key column line_id does not exist', fix: expect.stringContaining('primary key is (id)') })
  const ghost = find(report, 'shop.ghosts', 'exists')
  expect(ghost.status).toBe('fail')
  expect(ghost.fix).toContain('orders')

  expect(find(report, 'reports', 'folder').status).toBe('ok')
  expect(find(report, 'lake', 'writable').status).toBe('ok')
  expect(report.counts.fail).toBe(report.results.filter((r) => r.status === 'fail').length)
  expect(report.counts.fail).toBe(6)
}

describe('coldpipe check', () => {
  it('Postgres: reports a wrong cursor, a missing table, a missing key column, an unindexed cursor, a missing privilege, a bad cron and a bad timezone in one run', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`
      CREATE TABLE ${schema}.orders (id int PRIMARY KEY, updated_at timestamptz NOT NULL);
      CREATE INDEX ON ${schema}.orders (updated_at);
      CREATE TABLE ${schema}.customers (id int PRIMARY KEY, name text, changed timestamptz);
      CREATE TABLE ${schema}.items (id int PRIMARY KEY, sku text, modified_at timestamp);
      CREATE TABLE ${schema}.lines (id int PRIMARY KEY, updated_at timestamptz);
      CREATE INDEX ON ${schema}.lines (updated_at);
      CREATE TABLE ${schema}.secrets (id int PRIMARY KEY, updated_at timestamptz);
      CREATE TABLE ${schema}.places (id int PRIMARY KEY, at point, area polygon, name text);
      CREATE TABLE ${schema}.spots (id int PRIMARY KEY, at point, name text);
    `)
    // A login role that may read every table but one.
    const role = `check_${randomUUID().slice(0, 8)}`
    await client.query(`CREATE ROLE ${role} LOGIN; GRANT USAGE ON SCHEMA ${schema} TO ${role}; GRANT SELECT ON ALL TABLES IN SCHEMA ${schema} TO ${role}; REVOKE SELECT ON ${schema}.secrets FROM ${role}`)
    onTestFinished(async () => {
      await client.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`)
    })
    const roleUrl = url.replace(/\/\/[^@/]+@/, `//${role}@`)
    const dir = await tempDir()
    // A table with columns of types the export cannot carry, and one that leaves such a column out.
    const file = await writeConfig(dir, { kind: 'postgres', url: roleUrl, schema }, [{ name: 'secrets', mode: 'full' }, { name: 'places', mode: 'full' }, { name: 'spots', mode: 'full', columns: ['id', 'name'] }])

    const run = await coldpipe(['--config', file, 'check', '--json'])
    expect(run.code).toBe(1)
    const report = JSON.parse(run.stdout) as CheckReport
    const secret = find(report, 'shop.secrets', 'select')
    expect(secret).toMatchObject({ status: 'fail', fix: `GRANT SELECT ON ${schema}.secrets TO <the user in the source URL>` })
    const places = find(report, 'shop.places', 'column types')
    expect(places).toMatchObject({ status: 'fail', message: 'column at: type point has no faithful export mapping; column area: type polygon has no faithful export mapping', fix: expect.stringContaining('exports[0].tables[6].columns: [id, name]') })
    expect(report.results.some((r) => r.subject === 'shop.spots' && r.status === 'fail')).toBe(false)
    expectTableFindings({ ...report, counts: { ...report.counts, fail: report.counts.fail - 2 }, results: report.results.filter((r) => r !== secret && r !== places) })
    expect(find(report, 'shop.orders', 'select').status).toBe('ok')

    // The same findings on a terminal: a line each, the fix under it, the counts last.
    const text = await coldpipe(['--config', file, 'check'])
    expect(text.code).toBe(1)
    expect(text.stdout).toMatch(/^FAIL\s+shop\.customers\s+cursor\s+cursor column updated_at does not exist$/m)
    expect(text.stdout).toMatch(/^WARN\s+shop\.items\s+cursor index\s+no index starts with modified_at/m)
    expect(text.stdout).toMatch(/^\s+fix: CREATE INDEX CONCURRENTLY ON t_\w+\.items \(modified_at\)$/m)
    expect(text.stdout).toMatch(/^\d+ ok, 5 warnings, 8 failed/m)
  }, 120_000)

  it('MariaDB: the same findings from information_schema', async () => {
    const { connection, database, url } = await mysqlDatabase()
    await connection.query(`
      USE ${database};
      CREATE TABLE orders (id int PRIMARY KEY, updated_at datetime(6) NOT NULL, KEY (updated_at));
      CREATE TABLE customers (id int PRIMARY KEY, name text, changed datetime);
      CREATE TABLE items (id int PRIMARY KEY, sku varchar(20), modified_at timestamp NULL);
      CREATE TABLE \`lines\` (id int PRIMARY KEY, updated_at datetime, KEY (updated_at));
      CREATE TABLE places (id int PRIMARY KEY, at point, name varchar(10));
    `)
    const dir = await tempDir()
    const file = await writeConfig(dir, { kind: 'mysql', url }, [{ name: 'places', mode: 'full' }])
    const run = await coldpipe(['--config', file, 'check', '--json'])
    expect(run.code).toBe(1)
    const report = JSON.parse(run.stdout) as CheckReport
    const places = find(report, 'shop.places', 'column types')
    expect(places).toMatchObject({ status: 'fail', message: 'column at: type point has no faithful export mapping', fix: expect.stringContaining('exports[0].tables[5].columns: [id, name]') })
    expectTableFindings({ ...report, counts: { ...report.counts, fail: report.counts.fail - 1 }, results: report.results.filter((r) => r !== places) })
    expect(find(report, 'shop.items', 'cursor index').fix).toMatch(/^CREATE INDEX items_modified_at_idx ON t_\w+\.items \(modified_at\)$/)
    expect(find(report, 'shop.items', 'cursor nulls').fix).toMatch(/MODIFY modified_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP/)
  }, 120_000)

  it('asks the brokers for their topics: a configured topic that is missing is a warning, unreachable brokers a failure', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.orders (id int PRIMARY KEY, updated_at timestamptz NOT NULL)`)
    const broker = await testBroker()
    await createTopic(broker, 'shop.orders', 1)
    const dir = await tempDir()
    await mkdir(join(dir, 'reports'))
    const file = join(dir, 'coldpipe.yaml')
    const base = {
      lake: './lake',
      warehouse: './warehouse',
      sources: { shop: { kind: 'postgres', url, schema } },
      exports: [{ source: 'shop', tables: [{ name: 'orders', mode: 'full' }] }],
      jobs: { publish: { schedule: '0 6 * * *', timezone: 'Europe/Berlin' } },
    }
    const topics = [
      { topic: 'shop.orders', format: 'debezium', service: 'billing', table: 'orders' },
      { topic: 'shop.refunds', format: 'debezium', service: 'billing', table: 'refunds' },
    ]
    await writeFile(file, JSON.stringify({ ...base, changes: { brokers: [broker.bootstrap], topics } }))
    const run = await coldpipe(['--config', file, 'check', '--json'])
    const report = JSON.parse(run.stdout) as CheckReport
    expect(find(report, 'brokers', 'connect').status).toBe('ok')
    expect(find(report, 'topic shop.orders', 'exists').status).toBe('ok')
    expect(find(report, 'topic shop.refunds', 'exists')).toMatchObject({ status: 'warn', fix: expect.stringContaining('changes.topics[1].topic') })
    expect(find(report, 'job publish', 'schedule')).toMatchObject({ status: 'ok', message: expect.stringContaining('Europe/Berlin') })
    expect(report.counts.fail).toBe(0)
    expect(run.code).toBe(0)

    await broker.close()
    const down = await coldpipe(['--config', file, 'check', '--json'])
    expect(down.code).toBe(1)
    expect(find(JSON.parse(down.stdout) as CheckReport, 'brokers', 'connect')).toMatchObject({ status: 'fail', fix: expect.stringContaining('changes.brokers') })
  }, 180_000)

  it('a config whose schema is broken still lists its schedule problems with the schema errors, and exits 1', async () => {
    const dir = await tempDir()
    const file = join(dir, 'coldpipe.yaml')
    await writeFile(file, JSON.stringify({ lake: './lake', warehouse: './warehouse', exprots: [], jobs: { publish: { schedule: '0 25 * * *', timezone: 'Nowhere/City' } } }))
    const run = await coldpipe(['--config', file, 'check', '--json'])
    expect(run.code).toBe(1)
    const report = JSON.parse(run.stdout) as CheckReport
    expect(report.results.filter((r) => r.status === 'fail').map((r) => r.check).sort()).toEqual(['exprots', 'jobs.publish.schedule', 'jobs.publish.timezone'])
  }, 60_000)
})
