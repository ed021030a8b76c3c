import pg from 'pg'
import { describe, expect, it, onTestFinished } from 'vitest'
import { mysqlDatabase, postgresSchema, postgresUrl } from '../helpers/databases.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { pipeline, sourceConfig } from './reconcile-fixtures.ts'

describe('reconcile a table that takes writes during the check', () => {
  it('rows changed after the watermark are counted as too new, not reported; a change that bypassed the cursor still is', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.events (id bigint PRIMARY KEY, v int NOT NULL, updated_at timestamptz NOT NULL)`)
    await client.query(`INSERT INTO ${schema}.events SELECT g, 0, now() - interval '1 hour' + g * interval '1 millisecond' FROM generate_series(1, 200000) g`)
    const p = await pipeline({ app: sourceConfig('postgres', url, schema) }, [{
      source: 'app', timezone: 'UTC', tables: [{ name: 'events', mode: 'incremental', cursor: 'updated_at', key: ['id'], lagSeconds: 5, chunkRows: 100_000 }],
    }])
    await p.load()

    // A change that did not move the cursor: the warehouse never sees it, reconciliation must.
    await client.query(`UPDATE ${schema}.events SET v = -1 WHERE id = 4242`)
    // The writer: updates of old rows and inserts, each stamped now(), on a connection of its own until the test ends.
    const writer = new pg.Client(postgresUrl)
    await writer.connect()
    let writes = 0
    let stop = false
    let failure: unknown
    const loop = (async () => {
      for (let i = 0; !stop; i++) {
        await writer.query(`UPDATE ${schema}.events SET v = v + 1, updated_at = now() WHERE id IN (SELECT (random() * 199999)::bigint + 1 FROM generate_series(1, 20))`)
        await writer.query(`INSERT INTO ${schema}.events VALUES (${300000 + i}, 1, now())`)
        writes++
      }
    })().catch((error: unknown) => (failure = error))
    onTestFinished(async () => {
      stop = true
      await loop
      await writer.end()
    })
    await waitFor(() => writes >= 5, { timeoutMs: 30_000 })
    const before = writes
    const run = await p.reconcile({ lagSeconds: 0 })
    const during = writes - before
    stop = true
    await loop
    expect(failure).toBeUndefined()
    expect(during).toBeGreaterThan(0)

    const r = run.results[0]!
    expect(r.compared).toMatchObject({ basis: 'watermark', cursor: 'updated_at' })
    expect(r.compared.description).toContain('updated_at')
    expect(r.counts.tooNewRows).toBeGreaterThan(0)
    // Only the silent change: none of the rows written during (or just before) the check.
    expect(r.missing).toEqual([])
    expect(r.extra).toEqual([])
    expect(r.different).toEqual([{ key: { id: '4242' }, columns: ['v'] }])
  }, 300_000)
})

describe('reconcile a MariaDB table changed after its watermark', () => {
  it('updated and inserted rows stamped after the watermark are too new; a silent change is found', async () => {
    const { connection, database, url } = await mysqlDatabase()
    await connection.query(`CREATE TABLE ${database}.tickets (id int PRIMARY KEY, state varchar(10), updated_at datetime(6) NOT NULL, KEY (updated_at))`)
    await connection.query(`INSERT INTO ${database}.tickets SELECT seq, 'open', UTC_TIMESTAMP(6) - INTERVAL 2 HOUR + INTERVAL seq * 100000 MICROSECOND FROM seq_1_to_20000`)
    const p = await pipeline({ desk: sourceConfig('mysql', url) }, [{
      source: 'desk', timezone: 'UTC', tables: [{ name: 'tickets', mode: 'incremental', cursor: 'updated_at', key: ['id'], lagSeconds: 0, chunkRows: 100_000 }],
    }])
    await p.load()
    await connection.query(`UPDATE ${database}.tickets SET state = 'closed', updated_at = UTC_TIMESTAMP(6) WHERE id % 400 = 0`)
    await connection.query(`INSERT INTO ${database}.tickets SELECT 20000 + seq, 'open', UTC_TIMESTAMP(6) FROM seq_1_to_10`)
    await connection.query(`UPDATE ${database}.tickets SET state = 'lost' WHERE id = 777`)
    const r = (await p.reconcile({ lagSeconds: 0 })).results[0]!
    expect(r.compared).toMatchObject({ basis: 'watermark', cursor: 'updated_at' })
    // The 50 updated and the 10 inserted: stamped after the watermark (no lag configured).
    expect(r.counts).toMatchObject({ sourceRows: 20_010, tooNewRows: 60 })
    expect(r.missing).toEqual([])
    expect(r.extra).toEqual([])
    expect(r.different).toEqual([{ key: { id: '777' }, columns: ['state'] }])
  }, 120_000)
})
