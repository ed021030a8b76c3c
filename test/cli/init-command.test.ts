import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../cli/config/index.ts'
import { mysqlDatabase, postgresSchema } from '../helpers/databases.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { coldpipe } from './cli-process.ts'

/** What init must suggest for the tables both databases get. */
const expected = {
  // primary key and an update-time column: incremental
  orders: { mode: 'incremental', cursor: 'updated_at', key: ['id'] },
  order_lines: { mode: 'incremental', cursor: 'lastModified', key: ['order_id', 'line_no'] },
  // no primary key: full
  audit_log: { mode: 'full' },
  // a primary key but no update-time column (created_at says nothing about updates): full
  countries: { mode: 'full', key: ['code'] },
  // an update-time name that is not a time: full
  notes: { mode: 'full', key: ['id'] },
}

async function initAndLoad(dir: string, args: string[]): Promise<ReturnType<typeof loadConfig>> {
  const file = join(dir, 'coldpipe.yaml')
  const run = await coldpipe(['--config', file, 'init', ...args])
  expect(run.stderr).toBe('')
  expect(run.code).toBe(0)
  expect(run.stdout).toContain(`wrote ${file}: source `)
  // The real loader, as every other command would read it.
  return loadConfig(file)
}

function expectSuggestions(config: ReturnType<typeof loadConfig>, source: string): void {
  expect(config.exports).toHaveLength(1)
  expect(config.exports[0]!.source).toBe(source)
  const byName = Object.fromEntries(config.exports[0]!.tables!.map((t) => [t.name, { mode: t.mode, ...(t.cursor ? { cursor: t.cursor } : {}), ...(t.key ? { key: t.key } : {}) }]))
  expect(byName).toEqual(expected)
  expect(config.jobs.publish?.schedule).toBeTruthy()
}

describe('coldpipe init --from', () => {
  it('Postgres: writes a config the loader accepts, incremental where a primary key and an update-time column exist; check then passes', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`
      CREATE TABLE ${schema}.orders (id bigint PRIMARY KEY, total numeric, created_at timestamptz, updated_at timestamptz);
      CREATE TABLE ${schema}.order_lines (order_id bigint, line_no int, updated timestamp, "lastModified" timestamp NOT NULL, PRIMARY KEY (order_id, line_no));
      CREATE TABLE ${schema}.audit_log (at timestamptz, modified_at timestamptz, what text);
      CREATE TABLE ${schema}.countries (code text PRIMARY KEY, created_at timestamptz);
      CREATE TABLE ${schema}.notes (id int PRIMARY KEY, updated_at text);
      CREATE TABLE ${schema}.places (id int PRIMARY KEY, at point, name text);
    `)
    const dir = await tempDir()
    const config = await initAndLoad(dir, ['--from', url, '--schema', schema, '--name', 'shop'])
    // A column of a type the export cannot carry is left out, and said so.
    const places = config.exports[0]!.tables!.find((t) => t.name === 'places')
    expect(places).toMatchObject({ mode: 'full', key: ['id'], columns: ['id', 'name'] })
    expectSuggestions({ ...config, exports: [{ ...config.exports[0]!, tables: config.exports[0]!.tables!.filter((t) => t !== places) }] }, 'shop')
    expect(config.sources.shop).toMatchObject({ kind: 'postgres', url, schema })
    // Each table carries the reason for its mode.
    const text = await readFile(join(dir, 'coldpipe.yaml'), 'utf8')
    expect(text).toMatch(/# full: no primary key/)
    expect(text).toMatch(/# full: no update-time column \(e\.g\. updated_at\): re-read in full each run; left out, no faithful export mapping: at \(point\)/)
    // Of two update-time columns the one that is never NULL; a cursor that may be NULL is pointed out.
    expect(text).toMatch(/# incremental: primary key \(order_id, line_no\) and update-time column lastModified$/m)
    expect(text).toMatch(/# incremental: primary key \(id\) and update-time column updated_at \(it may be NULL: a row whose updated_at is NULL is read by full runs only; see coldpipe check\)/)

    // The starter config is ready for check: nothing fails (unindexed cursors and the missing snapshot only warn).
    const check = await coldpipe(['--config', join(dir, 'coldpipe.yaml'), 'check', '--json'])
    const report = JSON.parse(check.stdout) as { counts: { fail: number; warn: number } }
    expect(report.counts.fail).toBe(0)
    expect(report.counts.warn).toBeGreaterThan(0)
    expect(check.code).toBe(0)
  }, 120_000)

  it('MariaDB: the same suggestions from a mysql:// or mariadb:// URL', async () => {
    const { connection, database, url } = await mysqlDatabase()
    await connection.query(`
      USE ${database};
      CREATE TABLE orders (id bigint PRIMARY KEY, total decimal(10,2), created_at datetime, updated_at datetime(6));
      CREATE TABLE order_lines (order_id bigint, line_no int, updated datetime NULL, lastModified timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY (order_id, line_no));
      CREATE TABLE audit_log (at datetime, modified_at datetime, what text);
      CREATE TABLE countries (code varchar(2) PRIMARY KEY, created_at datetime);
      CREATE TABLE notes (id int PRIMARY KEY, updated_at varchar(40));
    `)
    const dir = await tempDir()
    const mysqlConfig = await initAndLoad(dir, ['--from', url])
    expectSuggestions(mysqlConfig, database)
    expect(mysqlConfig.sources[database]).toMatchObject({ kind: 'mysql', url })

    const other = await tempDir()
    const mariadbConfig = await initAndLoad(other, ['--from', url.replace(/^mysql:/, 'mariadb:'), '--name', 'shop'])
    expectSuggestions(mariadbConfig, 'shop')
  }, 120_000)

  it('refuses to overwrite an existing file without --force, and replaces it with --force', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.orders (id bigint PRIMARY KEY, updated_at timestamptz)`)
    const dir = await tempDir()
    const file = join(dir, 'coldpipe.yaml')
    await writeFile(file, 'lake: ./mine\n')
    const refused = await coldpipe(['--config', file, 'init', '--from', url, '--schema', schema])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/^coldpipe: REQUEST_INVALID: .*coldpipe\.yaml already exists; pass --force/m)
    expect(await readFile(file, 'utf8')).toBe('lake: ./mine\n')

    const forced = await coldpipe(['--config', file, 'init', '--from', url, '--schema', schema, '--force'])
    expect(forced.code).toBe(0)
    expect(loadConfig(file).exports[0]!.tables).toEqual([expect.objectContaining({ name: 'orders', mode: 'incremental' })])
    expect(existsSync(join(dir, 'reports'))).toBe(true)
  }, 120_000)

  it('moves a password out of the file into an environment variable the loader reads', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.orders (id bigint PRIMARY KEY, updated_at timestamptz)`)
    // The test server trusts local connections, so any password gets in.
    const withPassword = url.replace(/\/\/([^@/:]+)@/, '//$1:s3cret@')
    const dir = await tempDir()
    const file = join(dir, 'coldpipe.yaml')
    const run = await coldpipe(['--config', file, 'init', '--from', withPassword, '--schema', schema, '--name', 'shop'])
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('${SHOP_PASSWORD}')
    const text = await readFile(file, 'utf8')
    expect(text).not.toContain('s3cret')
    expect(() => loadConfig(file, {})).toThrow(/SHOP_PASSWORD/)
    expect(loadConfig(file, { SHOP_PASSWORD: 's3cret' }).sources.shop!.url).toBe(withPassword)
  }, 60_000)

  it('names what is wrong with an unreachable or unknown database URL, without its password, and writes nothing', async () => {
    const dir = await tempDir()
    const file = join(dir, 'coldpipe.yaml')
    // Nothing listens on port 9.
    const run = await coldpipe(['--config', file, 'init', '--from', 'postgres://app:s3cret@127.0.0.1:9/shop'])
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/^coldpipe: SOURCE_CONNECT_FAILED: cannot connect to postgres:\/\/app:\$\{SHOP_PASSWORD\}@127\.0\.0\.1:9\/shop/m)
    expect(run.stderr).not.toContain('s3cret')
    expect(existsSync(file)).toBe(false)
    const bad = await coldpipe(['--config', file, 'init', '--from', 'sqlite:///tmp/x.db'])
    expect(bad.stderr).toMatch(/^coldpipe: REQUEST_INVALID: database URL must start with postgres:\/\/, mysql:\/\/ or mariadb:\/\//m)
  }, 60_000)
})
