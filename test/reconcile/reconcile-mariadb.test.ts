import { describe, expect, it } from 'vitest'
import { mysqlDatabase } from '../helpers/databases.ts'
import { pipeline, sourceConfig } from './reconcile-fixtures.ts'

describe('reconcile against MariaDB', () => {
  it('a 300k-row table keyed by text: a match, then one changed value, one missing and one extra row, each named by key', async () => {
    const { connection, database, url } = await mysqlDatabase()
    await connection.query(`CREATE TABLE ${database}.accounts (code varchar(20) PRIMARY KEY, owner varchar(40), balance decimal(14,2), opened datetime(6))`)
    await connection.query(`INSERT INTO ${database}.accounts SELECT CONCAT('acc-', seq), CONCAT('owner ', seq % 5000), (seq % 100000) / 100, '2026-01-01' + INTERVAL seq SECOND FROM seq_1_to_300000`)
    const p = await pipeline({ bank: sourceConfig('mysql', url) }, [{ source: 'bank', timezone: 'UTC', tables: [{ name: 'accounts', mode: 'full', key: ['code'], lagSeconds: 0, chunkRows: 150_000 }] }])
    await p.load()

    const same = (await p.reconcile()).results[0]!
    expect(same).toMatchObject({ status: 'match', counts: { sourceRows: 300_000, warehouseRows: 300_000, comparedRows: 300_000 } })
    expect(same.transfer.sourceRowsFetched).toBe(0)

    await connection.query(`UPDATE ${database}.accounts SET owner = 'someone else' WHERE code = 'acc-150000'`)
    await connection.query(`DELETE FROM ${database}.accounts WHERE code = 'acc-123'`)
    await connection.query(`INSERT INTO ${database}.accounts VALUES ('zzz-extra', 'late', 0, NOW())`)
    const r = (await p.reconcile()).results[0]!
    expect(r.status).toBe('mismatch')
    expect(r.different).toEqual([{ key: { code: 'acc-150000' }, columns: ['owner'] }])
    expect(r.extra).toEqual([{ key: { code: 'acc-123' } }])
    expect(r.missing).toEqual([{ key: { code: 'zzz-extra' } }])
    // Aggregates and the rows of a few small segments, not the table (the 10M-row bench measures the scale).
    expect(r.transfer.sourceRowsFetched).toBeLessThan(2_000)
    expect(r.transfer.sourceAggregateRows).toBeLessThan(2_000)
  }, 300_000)
})
