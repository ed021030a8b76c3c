import { describe, expect, it } from 'vitest'
import { isColdpipeError } from '../../core/errors.ts'
import { checkSqlSize, checkSqlText, scanSql } from '../../reports-api/sql-text-check.ts'

function codeOf(sql: string): string | undefined {
  try {
    checkSqlText(sql)
    return undefined
  } catch (error) {
    return isColdpipeError(error) ? `${error.code}:${String(error.context.statement ?? '')}` : 'thrown'
  }
}

describe('the /sql text check', () => {
  it('blanks comments (nested, as DuckDB nests them) and strings, and unquotes identifiers', () => {
    const scanned = scanSql(`select 'a -- b' as "x""y", 1 /* outer /* inner */ still comment */ -- tail\nfrom "read_csv"('f')`)
    expect(scanned.code).toBe(`select '' as x"y, 1    \nfrom read_csv('')`)
    expect(scanned.keywords).toBe(`select '' as "", 1    \nfrom ""('')`)
    expect(scanned.withStrings).toBe(`select 'a -- b' as "x""y", 1    \nfrom "read_csv"('f')`)
  })

  it('sees through comments and quoting, and refuses what hides behind them', () => {
    expect(codeOf('select 1 /* a /* b */ ; attach */ as x')).toBeUndefined()
    expect(codeOf("select 1 /* a /* b */ */ ; attach 'x'")).toBe('SQL_FORBIDDEN:MULTIPLE')
    expect(codeOf('select * from "read_text"(\'/etc/passwd\')')).toBe('SQL_FORBIDDEN:FILE_ACCESS')
    expect(codeOf("select ';' as a; ")).toBeUndefined()
    expect(codeOf('select 1;\n;  ')).toBeUndefined()
    expect(codeOf('select 1 /* unterminated')).toBe('SQL_INVALID:')
    expect(codeOf(`select 1 ${'/*'.repeat(33)}${'*/'.repeat(33)}`)).toBe('SQL_INVALID:')
    expect(codeOf(`select 1 ${'/*'.repeat(32)}${'*/'.repeat(32)}`)).toBeUndefined()
  })

  it('takes linear time on pathological texts (each would take minutes with backtracking or rescanning)', { timeout: 30_000 }, () => {
    const texts = [
      '/*'.repeat(49_000),
      `select ${"'".repeat(200_001)}`,
      `select ${'"'.repeat(200_001)}`,
      `select ${"'a".repeat(100_000)}`,
      `select ${'-'.repeat(200_000)}`,
      `select ${'/'.repeat(200_000)}`,
      `select read_${'a'.repeat(200_000)}`,
      `select 1 from${' '.repeat(200_000)}x`,
      `select 1 ${'( '.repeat(100_000)}`,
      `select 1${';'.repeat(200_000)}`,
      `select ${'/* x */'.repeat(30_000)} 1`,
    ]
    for (const text of texts) codeOf(text)
    // 200 repetitions of the worst case above: still well inside the test timeout when linear.
    for (let i = 0; i < 200; i++) codeOf('/*'.repeat(49_000))
  })

  it('measures the size limit in UTF-8 bytes', () => {
    expect(() => checkSqlSize('é'.repeat(600), 1024)).toThrow(expect.objectContaining({ code: 'SQL_TOO_LARGE', status: 413, context: { bytes: 1200, maxBytes: 1024 } }))
    expect(() => checkSqlSize('e'.repeat(1024), 1024)).not.toThrow()
  })
})
