import mysql from 'mysql2'
import { describe, expect, it, onTestFinished } from 'vitest'
import { MysqlCsvQuery, type MysqlCommandConnection } from '../../ingest/export/mysql-csv-query.ts'
import type { CsvBatch } from '../../ingest/export/source-connector.ts'
import { mysqlUrl } from '../helpers/databases.ts'
import { waitFor } from '../helpers/wait-for.ts'

async function connect(): Promise<mysql.Connection> {
  const connection = mysql.createConnection({ uri: mysqlUrl })
  connection.on('error', () => undefined)
  onTestFinished(() => connection.destroy())
  await ask(connection, 'SELECT 1')
  return connection
}

function ask(connection: mysql.Connection, sql: string): Promise<unknown> {
  return new Promise((resolve, reject) => connection.query(sql, (error, rows) => (error ? reject(error) : resolve(rows))))
}

function start(connection: mysql.Connection, query: MysqlCsvQuery): MysqlCsvQuery {
  ;(connection as unknown as MysqlCommandConnection).addCommand(query)
  return query
}

async function readAll(query: AsyncIterable<CsvBatch>): Promise<{ text: string; rows: number; batches: number }> {
  const parts: Buffer[] = []
  let rows = 0
  for await (const b of query) {
    parts.push(b.data)
    rows += b.rows
  }
  return { text: Buffer.concat(parts).toString('utf8'), rows, batches: parts.length }
}

describe('MysqlCsvQuery: a SELECT as a mysql2 command, rows as CSV batches', () => {
  it('streams every row, cuts a batch after every cutEveryRows rows, and leaves the connection usable', async () => {
    const connection = await connect()
    const query = start(connection, new MysqlCsvQuery(`SELECT seq, IF(seq % 3 = 0, NULL, CONCAT('v"', seq)) FROM seq_1_to_25000`, [false, true], 10_000))
    const seen: number[] = []
    let rows = 0
    let text = ''
    for await (const b of query as AsyncIterable<CsvBatch>) {
      rows += b.rows
      if (rows % 10_000 === 0) seen.push(rows)
      text += b.data.toString()
    }
    expect(rows).toBe(25_000)
    expect(seen).toEqual([10_000, 20_000])
    expect(text.startsWith('1,"v""1"\n2,"v""2"\n3,\n')).toBe(true)
    expect(await ask(connection, 'SELECT 2 AS two')).toEqual([{ two: 2 }])
  })

  it('an ERR packet mid-stream ends the stream with the server error; the connection stays usable', async () => {
    const connection = await connect()
    const query = start(connection, new MysqlCsvQuery(`SELECT seq, IF(seq = 60000, (SELECT 1 UNION SELECT 2), 'x') FROM seq_1_to_100000`, [false, true], 1_000_000))
    let rows = 0
    const failure = await (async () => {
      for await (const b of query as AsyncIterable<CsvBatch>) rows += b.rows
    })().then(
      () => undefined,
      (error: unknown) => error,
    )
    expect(failure).toMatchObject({ code: 'ER_SUBQUERY_NO_1_ROW' })
    // The rows before it were streamed (the error discards batches still buffered for the reader).
    expect(rows).toBeGreaterThan(0)
    expect(rows).toBeLessThanOrEqual(59_999)
    expect(await ask(connection, 'SELECT 3 AS three')).toEqual([{ three: 3 }])
  })

  it('fails (never waits) when the connection is lost mid-stream', async () => {
    const connection = await connect()
    const query = start(connection, new MysqlCsvQuery('SELECT seq, REPEAT(\'x\', 100) FROM seq_1_to_2000000', [false, true], 1_000_000))
    const iterator = (query as AsyncIterable<CsvBatch>)[Symbol.asyncIterator]()
    await iterator.next()
    ;(connection as unknown as { stream: import('node:net').Socket }).stream.destroy()
    const failure = await (async () => {
      for (;;) if ((await iterator.next()).done) return undefined
    })().catch((error: unknown) => error)
    expect(failure).toMatchObject({ code: 'PROTOCOL_CONNECTION_LOST' })
  })

  it('stops reading the socket while the reader is behind, and resumes', async () => {
    const connection = await connect()
    const query = start(connection, new MysqlCsvQuery(`SELECT seq, REPEAT('x', 200) FROM seq_1_to_200000`, [false, true], 1_000_000))
    const stream = (connection as unknown as { stream: import('node:net').Socket }).stream
    await waitFor(() => stream.isPaused(), { timeoutMs: 60_000, message: 'the socket was never paused' })
    // Paused: what waits for the reader is the stream's buffer, not the whole result.
    expect(query.readableLength).toBeLessThanOrEqual(query.readableHighWaterMark + 1)
    const { rows, text } = await readAll(query)
    expect(rows).toBe(200_000)
    expect(text.endsWith(`200000,${'x'.repeat(200)}\n`)).toBe(true)
  }, 120_000)

  it('refuses a result whose column count is not the expected one', async () => {
    const connection = await connect()
    const query = start(connection, new MysqlCsvQuery('SELECT 1, 2, 3', [false, false], 10))
    await expect(readAll(query)).rejects.toMatchObject({ code: 'PROTOCOL_ERROR' })
  })
})
