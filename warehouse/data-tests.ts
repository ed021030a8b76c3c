import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parse } from 'yaml'
import { quoteIdent, quoteLiteral, type Database } from '../core/duckdb/index.ts'
import { ColdpipeError } from '../core/errors.ts'
import type { Watermark } from '../lake/index.ts'

/** One entry of `<models>/tests.yaml` (see docs/warehouse.md). */
export interface DataTest {
  test: 'not_null' | 'unique' | 'accepted_values' | 'relationships' | 'freshness'
  /** `schema.table` (a service table or `analytics.<model>`); for freshness, the source table `service.table`. */
  table: string
  column?: string
  values?: (string | number | boolean)[]
  /** relationships: `schema.table.column` the values must exist in. */
  to?: string
  maxAgeSeconds?: number
  severity?: 'error' | 'warn'
}

function relation(name: string): string {
  return name.split('.').map(quoteIdent).join('.')
}

function field(test: DataTest, name: 'column' | 'to' | 'values' | 'maxAgeSeconds'): NonNullable<DataTest[typeof name]> {
  const value = test[name]
  if (value === undefined) throw new ColdpipeError('CONFIG_INVALID', `data test ${test.test} on ${test.table} needs \`${name}\``, { context: { field: name, table: test.table } })
  return value as NonNullable<DataTest[typeof name]>
}

function failingCountSql(test: DataTest): string {
  const table = relation(test.table)
  switch (test.test) {
    case 'not_null':
      return `SELECT count(*) FROM ${table} WHERE ${quoteIdent(field(test, 'column') as string)} IS NULL`
    case 'unique': {
      const c = quoteIdent(field(test, 'column') as string)
      return `SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM ${table} WHERE ${c} IS NOT NULL GROUP BY ${c} HAVING count(*) > 1)`
    }
    case 'accepted_values': {
      const values = (field(test, 'values') as unknown[]).map((v) => quoteLiteral(String(v))).join(', ')
      return `SELECT count(*) FROM ${table} WHERE ${quoteIdent(field(test, 'column') as string)} IS NOT NULL AND CAST(${quoteIdent(test.column!)} AS VARCHAR) NOT IN (${values})`
    }
    case 'relationships': {
      const to = (field(test, 'to') as string).split('.')
      const toColumn = quoteIdent(to.pop()!)
      const c = quoteIdent(field(test, 'column') as string)
      return `SELECT count(*) FROM ${table} t WHERE t.${c} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${relation(to.join('.'))} p WHERE p.${toColumn} = t.${c})`
    }
    default:
      throw new ColdpipeError('CONFIG_INVALID', `unknown data test ${String(test.test)} on ${test.table}`, { context: { field: 'test' } })
  }
}

export async function loadDataTests(modelsDir: string | undefined): Promise<DataTest[]> {
  if (!modelsDir) return []
  try {
    const doc = parse(await readFile(join(modelsDir, 'tests.yaml'), 'utf8')) as { tests?: DataTest[] } | null
    return doc?.tests ?? []
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw new ColdpipeError('CONFIG_PARSE_FAILED', `cannot read ${join(modelsDir, 'tests.yaml')}`, { cause })
  }
}

/**
 * Runs the data tests against the snapshot being built and records every result in `coldpipe.data_tests`.
 * A failing `error` test throws WAREHOUSE_DATA_TEST_FAILED (the publish stops, the previous snapshot stays).
 */
export async function runDataTests(db: Database, p: { modelsDir?: string; watermarks: Watermark[]; now: Date }): Promise<{ passed: number; warned: number }> {
  const tests = await loadDataTests(p.modelsDir)
  await db.run(`CREATE OR REPLACE TABLE coldpipe.data_tests (test VARCHAR, "table" VARCHAR, "column" VARCHAR, severity VARCHAR, failing BIGINT, passed BOOLEAN, detail VARCHAR)`)
  let passed = 0
  let warned = 0
  const errors: ColdpipeError[] = []
  for (const test of tests) {
    const severity = test.severity ?? 'error'
    let failing: number
    let detail = ''
    if (test.test === 'freshness') {
      const max = field(test, 'maxAgeSeconds') as number
      const marks = p.watermarks.filter((w) => `${w.service}.${w.table}` === test.table)
      const newest = Math.max(...marks.map((w) => Date.parse(w.asOf)), -Infinity)
      const age = (p.now.getTime() - newest) / 1000
      failing = age > max ? 1 : 0
      detail = marks.length ? `age ${Math.round(age)}s, max ${max}s` : 'no watermark for this source'
    } else {
      const [row] = await db.all<Record<string, bigint>>(failingCountSql(test))
      failing = Number(Object.values(row!)[0])
    }
    await db.run(`INSERT INTO coldpipe.data_tests VALUES (?, ?, ?, ?, ?, ?, ?)`, [test.test, test.table, test.column ?? null, severity, failing, failing === 0, detail])
    if (failing === 0) passed++
    else if (severity === 'warn') warned++
    else {
      errors.push(new ColdpipeError('WAREHOUSE_DATA_TEST_FAILED', `data test ${test.test} failed on ${test.table}${test.column ? `.${test.column}` : ''}: ${failing} failing row(s)${detail ? ` (${detail})` : ''}`, {
        context: { test: test.test, table: test.table, column: test.column, failing },
      }))
    }
  }
  if (errors[0]) throw errors[0]
  return { passed, warned }
}
