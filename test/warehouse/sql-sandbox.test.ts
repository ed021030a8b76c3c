import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Database } from '../../core/duckdb/index.ts'
import { ColdpipeError, isColdpipeError } from '../../core/errors.ts'
import { classifySqlError, publish, splitStatements } from '../../warehouse/index.ts'
import { commitExport } from '../helpers/lake-fixtures.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { setup } from './warehouse-setup.ts'

/** A published snapshot whose views read per-table Parquet files, opened the way every reader opens it. */
async function openedSnapshot(options: { localFiles?: boolean } = {}) {
  const { lakeRoot, warehouse, store } = await setup()
  await commitExport(lakeRoot, { service: 'catalog', table: 'items', mode: 'full', parts: [`SELECT range::INT AS id, 'item ' || range AS name FROM range(5)`] })
  await publish({ lakeRoot, warehouse })
  const { db, manifest } = await store.openReadOnly(undefined, options)
  return { db, manifest, close: () => db.close() }
}

async function failure(work: Promise<unknown>): Promise<ColdpipeError> {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!isColdpipeError(error)) throw new Error(`expected a ColdpipeError, got ${String(error)}`)
  return error
}

/** Runs every statement the way an ad-hoc reader does: split by DuckDB, errors classified. */
async function runAll(db: Database, sql: string) {
  const statements = await splitStatements(db, sql)
  const results = []
  for (let i = 0; i < statements.count; i++) {
    const prepared = await statements.prepare(i)
    try {
      results.push(await prepared.queryJson())
    } finally {
      prepared.close()
    }
  }
  return results
}

describe('the reader sandbox (SnapshotStore.openReadOnly)', () => {
  it('is on by default: the snapshot reads, files, extensions and settings are refused as SQL_FORBIDDEN', async () => {
    const { db, close } = await openedSnapshot()
    try {
      expect((await runAll(db, 'select count(*)::INT as n from catalog.items'))[0]!.rows).toEqual([{ n: 5 }])
      const outside = await tempDir('coldpipe-outside-')
      const target = join(outside, 'leak.csv')
      const refused: [string, RegExp][] = [
        [`copy (select 1) to '${target}'`, /Permission/],
        [`select * from read_text('/etc/hostname')`, /Permission/],
        [`install httpfs`, /Permission/],
        [`load httpfs`, /extensions/],
        [`set memory_limit = '8GB'`, /locked/],
        [`set enable_external_access = true`, /locked/],
        [`attach '${join(outside, 'x.duckdb')}' as x`, /Permission/],
        // The escapes of the issue: text checks cannot see inside a string that DuckDB runs as SQL.
        [`select * from query('select * from read_text(''/etc/hostname'')')`, /Permission/],
        [`select * from query('copy (select 1) to ''${target}''')`, /SELECT/],
        [`select * from json_execute_serialized_sql(json_serialize_sql('select * from read_text(''/etc/hostname'')'))`, /Permission/],
      ]
      for (const [sql, reason] of refused) {
        const error = await failure(runAll(db, sql))
        expect(error.code, sql).toBe('SQL_FORBIDDEN')
        expect(error.message, sql).toMatch(reason)
      }
      expect(existsSync(target)).toBe(false)
    } finally {
      close()
    }
  })

  it('with localFiles, statements read and write local files but settings stay locked', async () => {
    const { db, close } = await openedSnapshot({ localFiles: true })
    try {
      const dir = await tempDir('coldpipe-local-')
      await writeFile(join(dir, 'in.csv'), 'a,b\n1,x\n2,y\n')
      const [read] = await runAll(db, `select sum(a)::INT as total from read_csv('${join(dir, 'in.csv')}')`)
      expect(read!.rows).toEqual([{ total: 3 }])
      await runAll(db, `copy (select id from catalog.items) to '${join(dir, 'out.csv')}'`)
      expect(existsSync(join(dir, 'out.csv'))).toBe(true)
      expect((await failure(runAll(db, `set memory_limit = '8GB'`))).code).toBe('SQL_FORBIDDEN')
    } finally {
      close()
    }
  })
})

describe('splitStatements', () => {
  it("splits with DuckDB's parser: separators inside strings, comments and quoted names do not count", async () => {
    const { db, close } = await openedSnapshot()
    try {
      const sql = `select 'a; b' as "x;y"; -- one; two\nselect 2 as n /* ; */; select $$;$$ as d`
      const statements = await splitStatements(db, sql)
      expect(statements.count).toBe(3)
      const results = await runAll(db, sql)
      expect(results.map((r) => r.rows)).toEqual([[{ 'x;y': 'a; b' }], [{ n: 2 }], [{ d: ';' }]])
      const first = await statements.prepare(0)
      expect(first.kind).toBe('SELECT')
      first.close()
      // A later statement may use what an earlier one made, so statements bind only when run, in order.
      const dependent = await runAll(db, 'create temp table t as select 7 as v; select v from t')
      expect(dependent[1]!.rows).toEqual([{ v: 7 }])
    } finally {
      close()
    }
  })

  it('a parse error anywhere fails the input as SQL_INVALID before anything runs', async () => {
    const { db, close } = await openedSnapshot()
    try {
      const error = await failure(splitStatements(db, 'create temp table ran as select 1; selec 2'))
      expect(error.code).toBe('SQL_INVALID')
      expect((await failure(runAll(db, 'select * from ran'))).code).toBe('SQL_INVALID')
    } finally {
      close()
    }
  })
})

describe('classifySqlError', () => {
  it('keeps read-only refusals, timeouts and other codes; turns unknown binder errors into SQL_INVALID', async () => {
    const { db, close } = await openedSnapshot()
    try {
      expect((await failure(runAll(db, 'select * from no_such_table'))).code).toBe('SQL_INVALID')
      expect((await failure(runAll(db, 'select 1 +'))).code).toBe('SQL_INVALID')
      expect((await failure(runAll(db, 'create table catalog.x (i int)'))).code).toBe('WAREHOUSE_READ_ONLY')
    } finally {
      close()
    }
    const timeout = new ColdpipeError('SQL_TIMEOUT', 'stopped')
    expect(classifySqlError(timeout)).toBe(timeout)
    const io = new ColdpipeError('WAREHOUSE_QUERY_FAILED', 'IO Error: disk on fire')
    expect(classifySqlError(io).code).toBe('WAREHOUSE_QUERY_FAILED')
  })
})
