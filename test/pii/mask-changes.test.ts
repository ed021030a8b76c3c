import { createHmac, randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../../cli/config/index.ts'
import { ColdpipeError } from '../../core/errors.ts'
import { maskingFor, rebuildMasking } from '../../ingest/pii/index.ts'
import { CommitLog } from '../../lake/index.ts'
import { postgresSchema } from '../helpers/databases.ts'
import { smallDisk } from '../helpers/small-disk.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { readExported, testExporter } from '../export/export-fixtures.ts'
import { expectLakeUnchanged, findPlaintext, maskLake, testKeyText } from './pii-fixtures.ts'

const users = { source: 'identity', timezone: 'UTC', tables: [{ name: 'users', mode: 'full', key: ['id'] }] } as never

async function usersSource(tag: string): Promise<{ url: string; schema: string; emails: string[] }> {
  const { client, schema, url } = await postgresSchema()
  const emails = [1, 2, 3].map((i) => `user${i}-${tag}@example.com`)
  await client.query(`CREATE TABLE ${schema}.users (id int PRIMARY KEY, email text, city text)`)
  for (const [i, email] of emails.entries()) await client.query(`INSERT INTO ${schema}.users VALUES ($1, $2, 'Paris')`, [i + 1, email])
  return { url, schema, emails }
}

const hmac = (key: string, text: string): string => createHmac('sha256', Buffer.from(key)).update(text).digest('hex')

describe('a changed masking rule or key', () => {
  it('is refused at landing; a rebuild re-masks every file, deletes the old ones, and landings go on', { timeout: 120_000 }, async () => {
    const tag = randomUUID().slice(0, 8)
    const { url, schema, emails } = await usersSource(tag)
    const lake = await tempDir()
    const exporter = testExporter({ sources: { identity: { kind: 'postgres', url, schema } }, lakeRoot: lake })
    expect((await exporter.runExport(users, { runId: 'r1' }))[0]?.status).toBe('committed')
    const before = [...(await CommitLog.open(lake)).activeFiles().keys()]

    // Masking turned on for a table that already holds plaintext: refused, nothing lands.
    let rules = maskLake(lake, [{ column: 'identity.users.email', action: 'hash' }])
    const [refused] = await exporter.runExport(users, { runId: 'r2' })
    expect(refused).toMatchObject({ status: 'failed', error: { code: 'PII_MASKING_CHANGED' } })
    expect(refused?.error?.message).toContain('identity.users.email: lake files are not masked, config says hash')
    expect([...(await CommitLog.open(lake)).activeFiles().keys()]).toEqual(before)

    // The rebuild rewrites the plaintext files hashed, in one commit with its reason, and deletes the old ones.
    const rebuilt = await rebuildMasking({ lakeRoot: lake, rules })
    expect(rebuilt).toMatchObject([{ table: 'identity.users', action: 'rewritten', filesRewritten: 1 }])
    const log = await CommitLog.open(lake)
    const commit = await log.readCommit(log.latestVersion)
    expect(commit).toMatchObject({ kind: 'masking', remove: before, info: { reason: expect.stringContaining('masking rebuilt') } })
    for (const path of before) expect(existsSync(log.layout.absolute(path))).toBe(false)
    expect(await findPlaintext(emails, [lake])).toEqual([])
    let { rows } = await readExported(lake, 'identity', 'users', 'id, _cp_seq')
    expect(rows.map((r) => r.email)).toEqual(emails.map((e) => hmac(testKeyText, e)))

    // Landings go on, masked alike.
    expect((await exporter.runExport(users, { runId: 'r3' }))[0]?.status).toBe('committed')
    ;({ rows } = await readExported(lake, 'identity', 'users', 'id'))
    expect(rows.map((r) => r.email)).toEqual(emails.map((e) => hmac(testKeyText, e)))

    // hash → drop follows from the lake: rebuilt by rewriting.
    rules = maskLake(lake, [{ column: 'identity.users.email', action: 'drop' }])
    expect((await exporter.runExport(users, { runId: 'r4' }))[0]?.error?.code).toBe('PII_MASKING_CHANGED')
    expect(await rebuildMasking({ lakeRoot: lake, rules })).toMatchObject([{ action: 'rewritten' }])
    ;({ rows } = await readExported(lake, 'identity', 'users', 'id'))
    expect(rows.every((r) => !('email' in r))).toBe(true)
    expect((await exporter.runExport(users, { runId: 'r5' }))[0]?.status).toBe('committed')
  })

  it('a new key cannot be computed from hashes: refused, or the exported table is removed for a full re-export', { timeout: 120_000 }, async () => {
    const tag = randomUUID().slice(0, 8)
    const { url, schema, emails } = await usersSource(tag)
    const lake = await tempDir()
    const exporter = testExporter({ sources: { identity: { kind: 'postgres', url, schema } }, lakeRoot: lake })
    maskLake(lake, [{ column: 'identity.users.email', action: 'hash' }])
    expect((await exporter.runExport(users, { runId: 'r1' }))[0]?.status).toBe('committed')

    const newKey = 'a-rotated-key-9876543210-zyxwvu'
    const rotated = maskLake(lake, [{ column: 'identity.users.email', action: 'hash' }], newKey)
    const [refused] = await exporter.runExport(users, { runId: 'r2' })
    expect(refused?.error?.code).toBe('PII_MASKING_CHANGED')
    expect(refused?.error?.message).toContain('under another key')
    const error = await rebuildMasking({ lakeRoot: lake, rules: rotated }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ColdpipeError)
    expect((error as ColdpipeError).code).toBe('PII_REBUILD_UNSUPPORTED')
    expect((error as ColdpipeError).message).toContain('--reexport')

    expect(await rebuildMasking({ lakeRoot: lake, rules: rotated, reexport: true })).toMatchObject([{ action: 'removed-for-reexport' }])
    expect([...(await CommitLog.open(lake)).activeFiles().values()].filter((f) => f.table === 'users')).toEqual([])
    expect((await exporter.runExport(users, { runId: 'r3' }))[0]?.status).toBe('committed')
    const { rows } = await readExported(lake, 'identity', 'users', 'id')
    expect(rows.map((r) => r.email)).toEqual(emails.map((e) => hmac(newKey, e)))
  })
})

describe('a rebuild on a full lake disk', () => {
  it('commits nothing and leaves no new file; landings stay refused; once space is freed the rebuild goes through', { timeout: 120_000 }, async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.users (id int PRIMARY KEY, email text)`)
    await client.query(`INSERT INTO ${schema}.users SELECT g, md5(g::text) || md5((g + 1)::text) || '@example.com' FROM generate_series(1, 60000) g`)
    const disk = await smallDisk(40)
    const lake = join(disk.dir, 'lake')
    const exporter = testExporter({ sources: { identity: { kind: 'postgres', url, schema } }, lakeRoot: lake })
    expect((await exporter.runExport(users, { runId: 'r1' }))[0]?.status).toBe('committed')
    const log = await CommitLog.open(lake)
    const before = [...log.activeFiles().keys()]
    const version = log.latestVersion
    const rules = maskLake(lake, [{ column: 'identity.users.email', action: 'hash' }])

    await disk.fill(300_000)
    const error = await rebuildMasking({ lakeRoot: lake, rules }).catch((e: unknown) => e)
    expect((error as ColdpipeError).code).toBe('LAKE_DISK_FULL')
    await expectLakeUnchanged(lake, log, version, before)
    await disk.free()
    expect((await exporter.runExport(users, { runId: 'r2' }))[0]?.error?.code).toBe('PII_MASKING_CHANGED')

    expect(await rebuildMasking({ lakeRoot: lake, rules })).toMatchObject([{ action: 'rewritten', filesRewritten: before.length }])
    expect((await exporter.runExport(users, { runId: 'r3' }))[0]?.status).toBe('committed')
    const { rows } = await readExported(lake, 'identity', 'users', 'id')
    expect(rows).toHaveLength(60_000)
    expect(rows.every((r) => /^[0-9a-f]{64}$/.test(String(r.email)))).toBe(true)
  })
})

describe('pii config', () => {
  const base = { lake: './lake', warehouse: './w', sources: { identity: { kind: 'postgres', url: 'postgres://u@127.0.0.1/db' } } }
  const problems = (doc: unknown, env: NodeJS.ProcessEnv = {}): { path: string; reason: string }[] => {
    try {
      parseConfig(doc, { origin: 'test', baseDir: '/tmp', env })
    } catch (error) {
      expect((error as ColdpipeError).code).toBe('CONFIG_INVALID')
      return (error as ColdpipeError).context.problems as { path: string; reason: string }[]
    }
    return []
  }

  it('the old warehouse.pii and piiKey are refused, naming where masking moved', () => {
    const found = problems({ ...base, warehouse: { path: './w', pii: [{ column: 'identity.users.email', action: 'hash' }], piiKey: 'some-secret' } })
    expect(found).toEqual([
      { path: 'warehouse.pii', reason: expect.stringContaining('moved to pii.columns') },
      { path: 'warehouse.piiKey', reason: expect.stringContaining('pii.keyEnv') },
    ])
  })

  it('a missing or short key, a masked cursor, a dropped key column and an unmatchable subject are named', () => {
    const doc = {
      ...base,
      exports: [{ source: 'identity', tables: [{ name: 'users', mode: 'incremental', key: ['id'], cursor: 'updated_at' }] }],
      pii: {
        columns: [
          { column: 'identity.users.updated_at', action: 'hash' },
          { column: 'identity.users.id', action: 'drop' },
          { column: 'ordering.buyers.user_id', action: 'null' },
        ],
        subjects: { user: { keys: ['identity.users.email', 'ordering.buyers.user_id'] } },
      },
    }
    expect(problems(doc).map((p) => p.path)).toEqual(['pii.columns[0].action', 'pii.columns[1].action', 'pii.subjects.user.keys[1]'])
    expect(problems(doc, { COLDPIPE_PII_KEY: 'short' }).find((p) => p.path === 'pii.keyEnv')?.reason).toContain('needs 16+')
  })

  it('without the key in the environment the config loads, and a landing that hashes fails naming the variable before writing', async () => {
    const lake = await tempDir()
    const config = parseConfig({ ...base, lake, pii: { columns: [{ column: 'identity.users.email', action: 'hash' }] } }, { origin: 'test', baseDir: '/tmp', env: {} })
    const rules = maskingFor(config.lake)
    expect(rules.key).toBeUndefined()
    expect(() => rules.requireKey('erasure')).toThrow(/set the environment variable COLDPIPE_PII_KEY/)
    const { url, schema } = await usersSource(randomUUID().slice(0, 8))
    const exporter = testExporter({ sources: { identity: { kind: 'postgres', url, schema } }, lakeRoot: lake })
    const [failed] = await exporter.runExport(users, { runId: 'r1' })
    expect(failed?.error?.code).toBe('PII_KEY_MISSING')
    expect([...(await CommitLog.open(lake)).activeFiles().keys()]).toEqual([])
  })

  it('a valid config registers its masking for its lake, with the key from the environment', () => {
    const config = parseConfig({ ...base, lake: `./lake-${randomUUID()}`, pii: { keyEnv: 'MY_PII_KEY', columns: [{ column: 'identity.users.email', action: 'hash' }] } }, { origin: 'test', baseDir: '/tmp', env: { MY_PII_KEY: testKeyText } })
    const rules = maskingFor(config.lake)
    expect([...rules.forTable('identity', 'users')]).toEqual([['email', 'hash']])
    expect(rules.key?.hmacHex('x')).toBe(hmac(testKeyText, 'x'))
  })
})
