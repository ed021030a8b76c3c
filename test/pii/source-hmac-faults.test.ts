import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { openDatabase, quoteLiteral } from '../../core/duckdb/index.ts'
import { PiiKey } from '../../ingest/pii/index.ts'
import { CommitLog } from '../../lake/index.ts'
import { postgresSchema } from '../helpers/databases.ts'
import { faultProxy } from '../helpers/fault-proxy.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { testExporter } from '../export/export-fixtures.ts'
import { capturingLogger, committed, fullTable, quickRetries, scratchFiles } from '../export/fault-fixtures.ts'
import { findPlaintext, maskLake, testKeyText } from './pii-fixtures.ts'

describe('source-side hashing under a connection cut mid-read', () => {
  it('is retried on a fresh connection and commits once, every value hashed; no plaintext and no key material in logs, run records or the lake', { timeout: 180_000 }, async () => {
    const tag = randomUUID().slice(0, 8)
    const { client, schema } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.people (id bigint PRIMARY KEY, email text, note text)`)
    await client.query(`INSERT INTO ${schema}.people SELECT g, 'p' || g || '-${tag}@example.com', repeat('n', 80) FROM generate_series(1, 60000) g`)
    const proxy = await faultProxy({ host: '127.0.0.1', port: 5432 })
    const lake = await tempDir()
    maskLake(lake, [{ column: 's.people.email', action: 'hash' }])
    const { logger, records } = capturingLogger('debug')
    const exporter = testExporter({ sources: { s: { kind: 'postgres', url: `postgres://postgres@${proxy.address}/test`, schema, ...quickRetries } }, lakeRoot: lake, logger })
    // About 9 MB of CSV (64-character hashes) flow: the cut lands in the middle of the COPY.
    proxy.cutAfter(2_500_000)
    const [outcome] = await exporter.runExport({ source: 's', timezone: 'UTC', tables: [fullTable('people')] }, { runId: `cut-${tag}` })
    expect(outcome, JSON.stringify(outcome)).toMatchObject({ status: 'committed', rows: 60_000 })
    expect(proxy.connections).toBeGreaterThanOrEqual(2)
    expect(records.some((r) => r.msg === 'export table attempt failed on the source' && r.code === 'SOURCE_CONNECT_FAILED')).toBe(true)
    expect(await committed(lake, 's', 'people')).toMatchObject({ rows: 60_000 })
    expect(await scratchFiles(lake)).toEqual([])

    // Every row once, every email its HMAC.
    const key = PiiKey.fromText(testKeyText)
    const log = await CommitLog.open(lake)
    const files = [...log.activeFiles().values()].map((f) => quoteLiteral(log.layout.absolute(f.path)))
    const db = await openDatabase(':memory:')
    try {
      await key.loadInto(db)
      const [check] = await db.all<{ n: bigint; ids: bigint; wrong: bigint }>(
        `SELECT count(*) AS n, count(DISTINCT id) AS ids, count(*) FILTER (WHERE email IS DISTINCT FROM ${key.sql(`'p' || id || '-${tag}@example.com'`)}) AS wrong FROM read_parquet([${files.join(', ')}])`,
      )
      expect([Number(check!.n), Number(check!.ids), Number(check!.wrong)]).toEqual([60_000, 60_000, 0])
    } finally {
      db.close()
    }
    const { innerHex, outerHex } = key.pads()
    const logged = JSON.stringify(records)
    for (const secret of [innerHex, outerHex, testKeyText, `p1-${tag}@example.com`]) expect(logged).not.toContain(secret)
    // Run records, commits, state: no key material, and no plaintext of a sample of the emails.
    const samples = [1, 2, 30_000, 60_000].map((i) => `p${i}-${tag}@example.com`)
    expect(await findPlaintext([innerHex, outerHex, testKeyText, ...samples], [lake])).toEqual([])
  })
})
