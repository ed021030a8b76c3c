import { randomUUID } from 'node:crypto'
import { describe, expect, it, onTestFinished } from 'vitest'
import { openDatabase, quoteLiteral } from '../../core/duckdb/index.ts'
import { MysqlConnector } from '../../ingest/export/mysql-connector.ts'
import { PostgresConnector } from '../../ingest/export/postgres-connector.ts'
import { PiiKey } from '../../ingest/pii/index.ts'
import { CommitLog } from '../../lake/index.ts'
import { mysqlDatabase, postgresSchema } from '../helpers/databases.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { readExported, testExporter } from '../export/export-fixtures.ts'
import { silentLogger } from '../../core/logger.ts'
import { maskLake, testKeyText } from './pii-fixtures.ts'

const key = PiiKey.fromText(testKeyText)
const uuid = 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'
/** One row of every kind the sources hash: digits, big integers, text, non-ASCII text, booleans, UUIDs, NULL. */
const rows = [
  { id: 1, big: '9007199254740993', txt: 'plain text', vc: 'varchar value', email: 'jürgen.müller@exämple.de 😀', flag: true, u: uuid },
  { id: 2, big: null, txt: null, vc: '', email: null, flag: false, u: null },
]
const hashed = ['id', 'big', 'txt', 'vc', 'email', 'flag', 'u'] as const

/** What the change path and the erasure list hash: DuckDB's CAST(typed value AS VARCHAR). */
async function duckDbHashes(): Promise<Record<string, string | null>[]> {
  const db = await openDatabase(':memory:')
  onTestFinished(() => db.close())
  await key.loadInto(db)
  const out: Record<string, string | null>[] = []
  for (const r of rows) {
    const lit = (v: unknown, type: string): string => `CAST(${v === null ? 'NULL' : quoteLiteral(String(v))} AS ${type})`
    const exprs = {
      id: lit(r.id, 'INTEGER'), big: lit(r.big, 'BIGINT'), txt: lit(r.txt, 'VARCHAR'), vc: lit(r.vc, 'VARCHAR'),
      email: lit(r.email, 'VARCHAR'), flag: lit(r.flag, 'BOOLEAN'), u: lit(r.u, 'UUID'),
    }
    const select = Object.entries(exprs).map(([name, e]) => `${key.sql(`CAST(${e} AS VARCHAR)`)} AS ${name}`).join(', ')
    const [row] = await db.all<Record<string, string | null>>(`SELECT ${select}`)
    out.push(row!)
  }
  return out
}

function expectSameHashes(landed: Record<string, unknown>[], expected: Record<string, string | null>[]): void {
  expect(landed).toHaveLength(expected.length)
  landed.forEach((row, i) => {
    for (const name of hashed) expect({ column: name, value: row[name] }).toEqual({ column: name, value: expected[i]![name] })
    expect(row.ctl).toBe(`control-${i + 1}`)
  })
}

describe('source-side HMAC of hashed export columns', () => {
  it('PostgreSQL computes exactly the HMAC DuckDB and node:crypto compute (text, varchar, integers, boolean, uuid, non-ASCII, NULL)', { timeout: 120_000 }, async () => {
    const expected = await duckDbHashes()
    // node:crypto agrees with DuckDB on the same text forms.
    expect(expected[0]!.email).toBe(key.hmacHex(rows[0]!.email!))
    expect(expected[0]!.u).toBe(key.hmacHex(uuid.toLowerCase()))
    expect(expected[0]!.flag).toBe(key.hmacHex('true'))
    expect(expected[1]!.vc).toBe(key.hmacHex(''))

    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.people (id int PRIMARY KEY, big bigint, txt text, vc varchar(100), email text, flag boolean, u uuid, ctl text)`)
    for (const [i, r] of rows.entries()) await client.query(`INSERT INTO ${schema}.people VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, [r.id, r.big, r.txt, r.vc, r.email, r.flag, r.u, `control-${i + 1}`])

    // The expression on its own, against the server.
    const connector = await PostgresConnector.connect('idn', { kind: 'postgres', url, schema, connectTimeoutMs: 10_000, readTimeoutMs: 30_000, maxConnections: 1 } as never)
    onTestFinished(() => connector.close())
    const direct = await client.query<{ h: string | null; n: string | null }>(
      `SELECT ${connector.hmacExpr('email', key.pads())} AS h, ${connector.hmacExpr('NULL::text', key.pads())} AS n FROM ${schema}.people WHERE id = 1`,
    )
    expect(direct.rows[0]).toEqual({ h: expected[0]!.email, n: null })

    // And through an export: the lake holds the HMACs, equal to DuckDB's.
    const lake = await tempDir()
    maskLake(lake, hashed.map((c) => ({ column: `idn.people.${c}`, action: 'hash' as const })))
    const exporter = testExporter({ sources: { idn: { kind: 'postgres', url, schema } }, lakeRoot: lake, logger: silentLogger })
    const [outcome] = await exporter.runExport({ source: 'idn', timezone: 'UTC', tables: [{ name: 'people', mode: 'full', key: ['id'] }] } as never, { runId: `r-${randomUUID().slice(0, 8)}` })
    expect(outcome?.error).toBeUndefined()
    const { rows: landed, columns } = await readExported(lake, 'idn', 'people', 'ctl')
    expectSameHashes(landed, expected)
    expect(columns.filter((c) => c.name !== 'ctl').every((c) => c.type === 'VARCHAR')).toBe(true)
  })

  it('MariaDB computes exactly the same HMAC (latin1 and utf8mb4 text, integers, tinyint(1), uuid, NULL)', { timeout: 120_000 }, async () => {
    const expected = await duckDbHashes()
    const { connection, database, url } = await mysqlDatabase()
    await connection.query(
      `CREATE TABLE ${database}.people (id int PRIMARY KEY, big bigint, txt text CHARACTER SET latin1, vc varchar(100), email varchar(200) CHARACTER SET utf8mb4, flag tinyint(1), u uuid, ctl varchar(20))`,
    )
    for (const [i, r] of rows.entries()) await connection.query(`INSERT INTO ${database}.people VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, [r.id, r.big, r.txt, r.vc, r.email, r.flag === null ? null : Number(r.flag), r.u, `control-${i + 1}`])
    const connector = await MysqlConnector.connect('shop', { kind: 'mysql', url, connectTimeoutMs: 10_000, readTimeoutMs: 30_000, maxConnections: 1 } as never)
    onTestFinished(() => connector.close())
    const [direct] = (await connection.query(`SELECT ${connector.hmacExpr('`email`', key.pads())} AS h, ${connector.hmacExpr('NULL', key.pads())} AS n FROM ${database}.people WHERE id = 1`)) as unknown as [{ h: string; n: string | null }[]]
    expect(direct[0]).toEqual({ h: expected[0]!.email, n: null })

    const lake = await tempDir()
    maskLake(lake, hashed.map((c) => ({ column: `shop.people.${c}`, action: 'hash' as const })))
    const exporter = testExporter({ sources: { shop: { kind: 'mysql', url } }, lakeRoot: lake, logger: silentLogger })
    const [outcome] = await exporter.runExport({ source: 'shop', timezone: 'UTC', tables: [{ name: 'people', mode: 'full', key: ['id'] }] } as never, { runId: `r-${randomUUID().slice(0, 8)}` })
    expect(outcome?.error).toBeUndefined()
    const { rows: landed } = await readExported(lake, 'shop', 'people', 'ctl')
    // A MariaDB boolean is tinyint(1): digits, as DuckDB renders the TINYINT a change event would carry.
    expectSameHashes(landed, expected.map((e, i) => ({ ...e, flag: key.hmacHex(i === 0 ? '1' : '0') })))
  })

  it('a hashed column whose text differs between source and DuckDB is refused, naming service.table.column and its type; nothing lands', { timeout: 120_000 }, async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.payments (id int PRIMARY KEY, amount numeric(10,2), paid_at timestamptz)`)
    await client.query(`INSERT INTO ${schema}.payments VALUES (1, 10.50, now())`)
    const { connection, database, url: myUrl } = await mysqlDatabase()
    await connection.query(`CREATE TABLE ${database}.visits (id int PRIMARY KEY, seen_at datetime, score double)`)
    await connection.query(`INSERT INTO ${database}.visits VALUES (1, '2026-01-01 10:00:00', 1.5)`)
    const lake = await tempDir()
    maskLake(lake, [
      { column: 'pay.payments.amount', action: 'hash' },
      { column: 'web.visits.score', action: 'hash' },
    ])
    const exporter = testExporter({ sources: { pay: { kind: 'postgres', url, schema }, web: { kind: 'mysql', url: myUrl } }, lakeRoot: lake, logger: silentLogger })
    const [payments] = await exporter.runExport({ source: 'pay', timezone: 'UTC', tables: [{ name: 'payments', mode: 'full', key: ['id'] }] } as never, { runId: 'r-pay' })
    expect(payments?.status).toBe('failed')
    expect(payments?.error?.code).toBe('PII_TYPE_UNSUPPORTED')
    expect(payments?.error?.message).toContain('pay.payments.amount')
    expect(payments?.error?.message).toContain('numeric(10,2)')
    const [visits] = await exporter.runExport({ source: 'web', timezone: 'UTC', tables: [{ name: 'visits', mode: 'full', key: ['id'] }] } as never, { runId: 'r-web' })
    expect(visits?.error).toMatchObject({ code: 'PII_TYPE_UNSUPPORTED', context: { column: 'web.visits.score', sourceType: 'double' } })
    const log = await CommitLog.open(lake)
    expect(log.activeFiles().size).toBe(0)
  })
})
