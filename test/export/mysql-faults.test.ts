import { describe, expect, it } from 'vitest'
import { mysqlDatabase } from '../helpers/databases.ts'
import { faultProxy } from '../helpers/fault-proxy.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { testExporter } from './export-fixtures.ts'
import { capturingLogger, committed, fullTable, quickRetries, scratchFiles } from './fault-fixtures.ts'

async function bigAndSmall(rows: number): Promise<Awaited<ReturnType<typeof mysqlDatabase>>> {
  const db = await mysqlDatabase()
  await db.connection.query(`CREATE TABLE ${db.database}.big (id bigint PRIMARY KEY, payload varchar(200))`)
  await db.connection.query(`INSERT INTO ${db.database}.big SELECT seq, REPEAT('x', 100) FROM seq_1_to_${rows}`)
  await db.connection.query(`CREATE TABLE ${db.database}.small (id int)`)
  await db.connection.query(`INSERT INTO ${db.database}.small VALUES (1), (2), (3)`)
  return db
}

const tables = { source: 'm', timezone: 'UTC', tables: [fullTable('big'), fullTable('small')] }

/** The id of the connection streaming `big`, once the server shows its query. */
async function streamingConnection(db: Awaited<ReturnType<typeof mysqlDatabase>>, ended: () => boolean): Promise<number> {
  return waitFor(
    async () => {
      if (ended()) throw new Error('the export ended before its query was seen')
      const [rows] = await db.connection.query(
        `SELECT ID AS id FROM information_schema.PROCESSLIST WHERE COMMAND = 'Query' AND ID <> CONNECTION_ID() AND INFO LIKE 'SELECT %' AND INFO LIKE ?`,
        [`%\`${db.database}\`.\`big\`%`],
      )
      return (rows as { id: number }[])[0]?.id
    },
    { timeoutMs: 60_000, intervalMs: 10, message: 'no streaming query to kill' },
  )
}

describe('mariadb export faults mid-stream', () => {
  it('a connection cut mid-stream is retried on a fresh connection and the table commits once', async () => {
    const { database } = await bigAndSmall(100_000)
    const proxy = await faultProxy({ host: '127.0.0.1', port: 3306 })
    const lake = await tempDir()
    const { logger, records } = capturingLogger('warn')
    const exporter = testExporter({ sources: { m: { kind: 'mysql', url: `mysql://root@${proxy.address}/${database}`, ...quickRetries } }, lakeRoot: lake, logger })
    proxy.cutAfter(3_000_000)
    const result = await exporter.runExport(tables, { runId: 'cut' })
    expect(result.map((r) => [r.table, r.status]), JSON.stringify(result)).toEqual([['big', 'committed'], ['small', 'committed']])
    expect(result[0]?.rows).toBe(100_000)
    expect(proxy.connections).toBeGreaterThanOrEqual(2)
    expect(records.some((r) => r.msg === 'export table attempt failed on the source' && r.table === 'big')).toBe(true)
    expect(await committed(lake, 'm', 'big')).toMatchObject({ rows: 100_000 })
    expect(await scratchFiles(lake)).toEqual([])
  })

  it('with the retries exhausted the table fails cleanly and the next table still exports', async () => {
    const { database } = await bigAndSmall(100_000)
    const proxy = await faultProxy({ host: '127.0.0.1', port: 3306 })
    const lake = await tempDir()
    const exporter = testExporter({ sources: { m: { kind: 'mysql', url: `mysql://root@${proxy.address}/${database}`, ...quickRetries, retryMaxAttempts: 2 } }, lakeRoot: lake })
    proxy.cutEvery(2_000_000)
    const result = await exporter.runExport(tables, { runId: 'exhausted' }).finally(() => proxy.heal())
    expect(result[0]).toMatchObject({ table: 'big', status: 'failed', error: { code: 'SOURCE_CONNECT_FAILED', context: { source: 'm', table: 'big' } } })
    expect(result[1]).toMatchObject({ table: 'small', status: 'committed', rows: 3 })
    expect(await committed(lake, 'm', 'big')).toMatchObject({ rows: 0, files: 0 })
    expect(await scratchFiles(lake)).toEqual([])
  })

  it('a value DuckDB cannot convert mid-stream fails only its table, stops the read, and leaves nothing behind', async () => {
    const db = await bigAndSmall(10)
    await db.connection.query(`CREATE TABLE ${db.database}.timed (id bigint PRIMARY KEY, d date)`)
    // MariaDB under ALLOW_INVALID_DATES stores 2024-02-31, which no DuckDB DATE is: the third chunk's conversion
    // fails while later rows stream (a TIME past 24:00 would be refused earlier, by the reader itself).
    await db.connection.query(`SET SESSION sql_mode = 'ALLOW_INVALID_DATES'`)
    await db.connection.query(`INSERT INTO ${db.database}.timed SELECT seq, IF(seq = 50000, '2024-02-31', '2024-02-28') FROM seq_1_to_150000`)
    const lake = await tempDir()
    const exporter = testExporter({ sources: { m: { kind: 'mysql', url: db.url, ...quickRetries } }, lakeRoot: lake })
    const result = await exporter.runExport({ source: 'm', timezone: 'UTC', tables: [fullTable('timed'), fullTable('small')] }, { runId: 'bad' })
    expect(result[0], JSON.stringify(result[0])).toMatchObject({ table: 'timed', status: 'failed', error: { code: 'EXPORT_VALUE_INVALID', context: { source: 'm', table: 'timed' } } })
    expect(result[1]).toMatchObject({ table: 'small', status: 'committed', rows: 3 })
    expect(await committed(lake, 'm', 'timed')).toMatchObject({ rows: 0 })
    expect(await scratchFiles(lake)).toEqual([])
  })

  for (const kill of ['KILL QUERY', 'KILL'] as const) {
    it(`${kill} of the streaming connection mid-table is retried on a fresh connection`, async () => {
      const db = await bigAndSmall(200_000)
      const lake = await tempDir()
      const { logger, records } = capturingLogger('warn')
      const exporter = testExporter({ sources: { m: { kind: 'mysql', url: db.url, ...quickRetries } }, lakeRoot: lake, logger })
      const run = exporter.runExport(tables, { runId: 'killed' })
      let ended = false
      void run.finally(() => (ended = true))
      const id = await streamingConnection(db, () => ended)
      await db.connection.query(`${kill} ${Number(id)}`)
      const result = await run
      expect(result.map((r) => [r.table, r.status]), JSON.stringify(result)).toEqual([['big', 'committed'], ['small', 'committed']])
      expect(result[0]?.rows).toBe(200_000)
      expect(records.some((r) => r.msg === 'export table attempt failed on the source' && r.table === 'big')).toBe(true)
      expect(await committed(lake, 'm', 'big')).toMatchObject({ rows: 200_000 })
      expect(await scratchFiles(lake)).toEqual([])
    })
  }
})
