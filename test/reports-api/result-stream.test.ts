import { PassThrough, Writable } from 'node:stream'
import { describe, expect, it, onTestFinished } from 'vitest'
import { openDatabase, type Database } from '../../core/duckdb/index.ts'
import { isColdpipeError } from '../../core/errors.ts'
import { streamPipeDirectory, streamQuery } from '../../reports-api/result-stream.ts'
import { sandboxSettings } from '../../warehouse/sql-sandbox.ts'
import { waitFor } from '../helpers/wait-for.ts'

const query = `select range as id, 'name, "quoted" ' || range as label, (range * 1.5)::DECIMAL(12,2) as amount,
  range * 1000000007 as big, TIMESTAMP '2024-01-01 00:00:00' + to_seconds(range) as at, case when range % 7 = 0 then null else range % 3 end as maybe
  from range(20000)`

class Collect extends Writable {
  readonly parts: Buffer[] = []
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.parts.push(chunk)
    callback()
  }
  text(): string {
    return Buffer.concat(this.parts).toString('utf8')
  }
}

async function sandboxedDb(allowPipes: boolean): Promise<Database> {
  const db = await openDatabase(':memory:', {
    settings: sandboxSettings('256MB'),
    allowedDirectories: allowPipes ? [streamPipeDirectory()] : ['/nonexistent-coldpipe-dir/'],
  })
  onTestFinished(() => db.close())
  return db
}

describe('streamQuery', () => {
  it('falls back to chunked JS encoding where DuckDB may not write the pipe, with the same rows as queryJson', { timeout: 60_000 }, async () => {
    const db = await sandboxedDb(false)
    const expected = await db.queryJson(query)
    const csv = new Collect()
    const csvOutcome = await streamQuery(db, query, undefined, 'csv', csv)
    expect(csvOutcome).toEqual({ rows: 20000, writer: 'chunks' })
    const lines = csv.text().split('\r\n')
    expect(lines.pop()).toBe('')
    expect(lines[0]).toBe('id,label,amount,big,at,maybe')
    expect(lines.length).toBe(20001)
    expect(lines[8]).toBe(`7,"name, ""quoted"" 7",${expected.rows[7]!.amount},${expected.rows[7]!.big},${expected.rows[7]!.at},`)

    const ndjson = new Collect()
    expect(await streamQuery(db, query, undefined, 'ndjson', ndjson)).toEqual({ rows: 20000, writer: 'chunks' })
    const objects = ndjson.text().trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(objects).toEqual(expected.rows)

    const refused = await streamQuery(db, query, undefined, 'parquet', new Collect()).catch((error: unknown) => error)
    expect(isColdpipeError(refused, 'REPORT_FORMAT_UNSUPPORTED')).toBe(true)
    // The sandbox still refuses files: the fallback did not open a hole.
    const copy = await db.run(`COPY (select 1) TO '${streamPipeDirectory()}x.csv'`).catch((error: unknown) => error)
    expect(copy).toBeInstanceOf(Error)
  })

  it('uses DuckDB\'s own writer when the pipe folder is allowed, binding parameters', { timeout: 60_000 }, async () => {
    const db = await sandboxedDb(true)
    const csv = new Collect()
    const outcome = await streamQuery(db, 'select * from range($n) t(id)', { n: 5000 }, 'csv', csv)
    expect(outcome).toEqual({ rows: 5000, writer: 'duckdb' })
    expect(csv.text()).toBe(`id\n${Array.from({ length: 5000 }, (_, i) => `${i}\n`).join('')}`)
    // Outside the allowed folder the sandbox holds.
    const copy = await db.run("COPY (select 1) TO '/tmp/coldpipe-should-not-exist.csv'").catch((error: unknown) => error)
    expect(copy).toBeInstanceOf(Error)
  })

  it('both writers write edge values alike, as DuckDB does: ±infinity and BC dates, intervals, nested', { timeout: 60_000 }, async () => {
    const db = await sandboxedDb(true)
    const edges = `select range::integer as id, case range when 0 then 'infinity'::date when 1 then '-infinity'::date else date '0044-03-15 (BC)' end as d,
      interval (range) hour + interval '1 month' as i, [date '-infinity', null] as l, {'i': interval 90 minute, 'd': 'infinity'::date} as s,
      '\\x00\\xABz'::blob as b, uuid '00000000-0000-0000-0000-00000000000a' as u, '10:15:30+05:30'::timetz as tz, '1011'::bit as bt,
      170141183460469231731687303715884105727::hugeint as h, -0.0::double as z, 'nan'::double as nan, 1e300::double as big, 0.1::float as f from range(3)`
    // In CSV the JS encoder writes nested values as JSON text, DuckDB as its own literal: compared in NDJSON only.
    // -0.0 and NaN differ too (JavaScript numbers: 0 and NaN against DuckDB's -0.0 and nan), left as they are.
    // In NDJSON, DuckDB's writer gives HUGEINT as a number and widens a FLOAT (0.10000000149011612); the API keeps
    // HUGEINT exact as a string and writes the FLOAT as DuckDB's CSV and CLI do (0.1), checked below.
    const both = async (format: 'csv' | 'ndjson', sql: string): Promise<[string, string]> => {
      const own = new Collect()
      expect(await streamQuery(db, sql, undefined, format, own, { writer: 'duckdb' })).toEqual({ rows: 3, writer: 'duckdb' })
      const chunks = new Collect()
      expect(await streamQuery(db, sql, undefined, format, chunks, { writer: 'chunks' })).toEqual({ rows: 3, writer: 'chunks' })
      // Line ends differ (RFC 4180's CRLF in the JS encoder).
      return [chunks.text().replace(/\r\n/g, '\n'), own.text()]
    }
    const [csv, ownCsv] = await both('csv', `select * exclude (l, s, z, nan) from (${edges})`)
    expect(csv).toBe(ownCsv)
    expect(csv.split('\n')[1]!.split(',').at(-1)).toBe('0.1')
    const [ndjson, ownNdjson] = await both('ndjson', `select * exclude (z, nan, h, f) from (${edges})`)
    expect(ndjson.trimEnd().split('\n').map((line) => JSON.parse(line))).toEqual(ownNdjson.trimEnd().split('\n').map((line) => JSON.parse(line)))
    const [floats] = await both('ndjson', `select h, f from (${edges})`)
    expect(JSON.parse(floats.split('\n')[0]!)).toEqual({ h: '170141183460469231731687303715884105727', f: 0.1 })
  })

  for (const writer of ['duckdb', 'chunks'] as const) {
    it(`stops the query when the caller aborts while the sink is full (${writer})`, { timeout: 60_000 }, async () => {
      const db = await sandboxedDb(true)
      const sink = new PassThrough({ highWaterMark: 1024 })
      const controller = new AbortController()
      const running = streamQuery(db, "select range as id, repeat('y', 100) as pad from range(50000000)", undefined, 'csv', sink, { signal: controller.signal, writer })
      // Nobody reads the sink: wait until it is full, so the writer is blocked on back-pressure.
      await waitFor(() => sink.writableNeedDrain, { timeoutMs: 30_000 })
      expect(sink.writableLength).toBeLessThan(1024 * 1024)
      controller.abort()
      const error = await running.catch((caught: unknown) => caught)
      expect(isColdpipeError(error, 'STREAM_ABORTED')).toBe(true)
      // The connection is usable again at once (the query is not still running on it).
      expect(await db.all('select 42 as answer')).toEqual([{ answer: 42 }])
    })
  }

  it('stops when the sink is destroyed (the client went away)', { timeout: 60_000 }, async () => {
    const db = await sandboxedDb(true)
    const sink = new PassThrough({ highWaterMark: 1024 })
    const running = streamQuery(db, "select range as id, repeat('y', 100) as pad from range(50000000)", undefined, 'ndjson', sink)
    await waitFor(() => sink.writableNeedDrain, { timeoutMs: 30_000 })
    sink.destroy()
    const error = await running.catch((caught: unknown) => caught)
    expect(isColdpipeError(error, 'STREAM_ABORTED')).toBe(true)
  })

  it('reports a failing query as the database error, writing nothing', { timeout: 60_000 }, async () => {
    const db = await sandboxedDb(true)
    const sink = new Collect()
    const error = await streamQuery(db, 'select * from no_such_table', undefined, 'csv', sink).catch((caught: unknown) => caught)
    expect(isColdpipeError(error, 'WAREHOUSE_QUERY_FAILED')).toBe(true)
    expect(sink.parts).toHaveLength(0)
  })
})
