import { randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../core/logger.ts'
import { mysqlDatabase, postgresSchema } from '../helpers/databases.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { testExporter } from '../export/export-fixtures.ts'
import { fileLogger, findPlaintext, maskLake } from './pii-fixtures.ts'

describe('an export error of a table with masked columns', () => {
  it('withholds DuckDB message (which quotes the offending CSV line): code, table, file and line stay; error, log and lake carry no row value', { timeout: 120_000 }, async () => {
    const tag = randomUUID().slice(0, 8)
    const secret = `Secret-Note-${tag}`
    const { client, schema, url } = await postgresSchema()
    // NaN is a valid numeric(10,2) in PostgreSQL and no DECIMAL in DuckDB: the chunk's conversion fails on that line.
    await client.query(`CREATE TABLE ${schema}.payments (id int PRIMARY KEY, email text, amount numeric(10,2), note text)`)
    await client.query(`INSERT INTO ${schema}.payments VALUES (1, $1, 'NaN', $2)`, [`payer-${tag}@example.com`, secret])

    // Without masking, DuckDB's message is kept, and it does quote the line: what the masked case must not show.
    const plainLake = await tempDir()
    const plain = testExporter({ sources: { pay: { kind: 'postgres', url, schema } }, lakeRoot: plainLake, logger: silentLogger })
    const [unmasked] = await plain.runExport({ source: 'pay', timezone: 'UTC', tables: [{ name: 'payments', mode: 'full', key: ['id'] }] } as never, { runId: `r-${tag}-0` })
    expect(unmasked?.status).toBe('failed')
    expect(unmasked?.error?.message).toContain(secret)

    const lake = await tempDir()
    const logFile = join(await tempDir(), 'coldpipe.log')
    const { logger, flush } = fileLogger(logFile)
    maskLake(lake, [{ column: 'pay.payments.email', action: 'hash' }])
    const exporter = testExporter({ sources: { pay: { kind: 'postgres', url, schema } }, lakeRoot: lake, logger })
    const [outcome] = await exporter.runExport({ source: 'pay', timezone: 'UTC', tables: [{ name: 'payments', mode: 'full', key: ['id'] }] } as never, { runId: `r-${tag}-1` })
    await flush()
    expect(outcome?.status).toBe('failed')
    expect(outcome?.error).toMatchObject({ code: unmasked?.error?.code, context: { source: 'pay', table: 'payments', line: 1, duckdb: 'withheld' } })
    expect(outcome?.error?.message).toMatch(/table payments: DuckDB could not write .*\.parquet \(CSV .*\.csv, line 1\): DuckDB's message withheld/)
    expect(JSON.stringify(outcome)).not.toContain(secret)
    expect(JSON.stringify(outcome)).not.toContain('NaN')
    const log = await readFile(logFile, 'utf8')
    expect(log).toContain('export table failed')
    expect(log).not.toContain(secret)
    // Nothing of the row anywhere in the lake: run records, scratch, parts.
    expect(await findPlaintext([secret, `payer-${tag}@example.com`], [lake])).toEqual([])
  })

  it('MariaDB: a value that fails DuckDB conversion is reported by line, its row withheld', { timeout: 120_000 }, async () => {
    const tag = randomUUID().slice(0, 8)
    const secret = `Secret-City-${tag}`
    const { connection, database, url } = await mysqlDatabase()
    // 2024-02-31 is a valid date to MariaDB under ALLOW_INVALID_DATES and no DATE in DuckDB.
    await connection.query(`SET SESSION sql_mode = 'ALLOW_INVALID_DATES'`)
    await connection.query(`CREATE TABLE ${database}.visits (id int PRIMARY KEY, email varchar(100), seen date, city varchar(100))`)
    await connection.query(`INSERT INTO ${database}.visits VALUES (1, 'ok-${tag}@example.com', '2026-01-01', 'Fine'), (2, ?, '2024-02-31', ?)`, [`visitor-${tag}@example.com`, secret])
    const lake = await tempDir()
    maskLake(lake, [{ column: 'web.visits.email', action: 'hash' }])
    const exporter = testExporter({ sources: { web: { kind: 'mysql', url } }, lakeRoot: lake, logger: silentLogger })
    const [outcome] = await exporter.runExport({ source: 'web', timezone: 'UTC', tables: [{ name: 'visits', mode: 'full', key: ['id'] }] } as never, { runId: `r-${tag}` })
    expect(outcome?.status).toBe('failed')
    expect(outcome?.error).toMatchObject({ code: 'EXPORT_VALUE_INVALID', context: { table: 'visits', line: 2, duckdb: 'withheld' } })
    expect(JSON.stringify(outcome)).not.toContain(secret)
    expect(await findPlaintext([secret, `visitor-${tag}@example.com`], [lake])).toEqual([])
  })
})
