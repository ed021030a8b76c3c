import { ColdpipeError } from '../core/errors.ts'

/** Leading keywords of the statements ad-hoc SQL may run: queries only. */
const allowedLeads = new Set(['SELECT', 'WITH', 'FROM', 'VALUES', 'TABLE', '('])

/**
 * Table functions that read files or other databases. The sandbox (enable_external_access=false) refuses them
 * anyway; refusing them here as well gives a clear code and keeps a second wall if a setting ever slips.
 * Every pattern below runs on text without comments and strings and is linear in its length: no nested
 * quantifiers, and no pattern that can rescan the rest of the text from each position.
 */
const fileFunctions = /\b(read_\w+|glob|sniff_csv|parquet_\w+|iceberg_\w+|delta_scan|sqlite_\w+|postgres_\w+|mysql_\w+|query_table|duckdb_secrets|load_extension)\s*\(/i

const statementKeywords = ['ATTACH', 'DETACH', 'INSTALL', 'LOAD', 'COPY', 'EXPORT', 'IMPORT', 'PRAGMA', 'CALL', 'SET', 'RESET', 'CREATE', 'INSERT', 'UPDATE', 'DELETE', 'DROP', 'ALTER']
const keywordPatterns = statementKeywords.map((keyword) => ({
  keyword,
  // Inside a query these can only appear as statements of a CTE body (e.g. WITH … INSERT), never as clauses;
  // `SET`, `UPDATE` and `RESET` are matched only in statement position.
  pattern: ['SET', 'UPDATE', 'RESET'].includes(keyword) ? new RegExp(`(?:^|[;(])\\s*${keyword}\\b`, 'i') : new RegExp(`\\b${keyword}\\b`, 'i'),
}))

/** Nested comments deeper than this are refused before DuckDB's scanner sees them. */
const maxCommentDepth = 32

export interface ScannedSql {
  /** Comments and string literals blanked, quoted identifiers unquoted: `"read_csv"(…)` is still read_csv. */
  code: string
  /** Comments and string literals blanked, quoted identifiers blanked: a column quoted as "load" is fine. */
  keywords: string
  /** Comments blanked, everything else as written. */
  withStrings: string
}

/**
 * One pass over the text, O(n): `--` line comments, nested `/* … *\/` comments (DuckDB nests them, as
 * PostgreSQL does), '…' strings with '' escapes and "…" identifiers with "" escapes. An unterminated or too
 * deeply nested comment is refused (SQL_INVALID); an unterminated string or identifier runs to the end.
 */
export function scanSql(sql: string): ScannedSql {
  const code: string[] = []
  const keywords: string[] = []
  const withStrings: string[] = []
  const n = sql.length
  let i = 0
  while (i < n) {
    const c = sql[i]!
    const next = sql[i + 1]
    if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i + 2)
      i = end < 0 ? n : end
      code.push(' ')
      keywords.push(' ')
      withStrings.push(' ')
    } else if (c === '/' && next === '*') {
      let depth = 1
      i += 2
      while (i < n && depth > 0) {
        if (sql[i] === '/' && sql[i + 1] === '*') {
          depth++
          // DuckDB's scanner takes quadratic time in the nesting depth (8,000 levels: seconds): refuse early.
          if (depth > maxCommentDepth) {
            throw new ColdpipeError('SQL_INVALID', `comments nested deeper than ${maxCommentDepth} levels are not accepted`, { context: { position: i } })
          }
          i += 2
        } else if (sql[i] === '*' && sql[i + 1] === '/') {
          depth--
          i += 2
        } else i++
      }
      if (depth > 0) throw new ColdpipeError('SQL_INVALID', 'unterminated /* comment', { context: { position: n } })
      code.push(' ')
      keywords.push(' ')
      withStrings.push(' ')
    } else if (c === "'" || c === '"') {
      const start = i
      i++
      while (i < n) {
        if (sql[i] === c) {
          if (sql[i + 1] === c) i += 2
          else break
        } else i++
      }
      i = Math.min(n, i + 1)
      const literal = sql.slice(start, i)
      withStrings.push(literal)
      if (c === "'") {
        code.push("''")
        keywords.push("''")
      } else {
        code.push(literal.slice(1, literal.endsWith('"') && literal.length > 1 ? -1 : undefined).replaceAll('""', '"'))
        keywords.push('""')
      }
    } else {
      // Copy a run of ordinary characters at once.
      let end = i + 1
      while (end < n && !"-/'\"".includes(sql[end]!)) end++
      const run = sql.slice(i, end)
      code.push(run)
      keywords.push(run)
      withStrings.push(run)
      i = end
    }
  }
  return { code: code.join(''), keywords: keywords.join(''), withStrings: withStrings.join('') }
}

function forbidden(kind: string, reason: string): ColdpipeError {
  return new ColdpipeError('SQL_FORBIDDEN', `${kind} statements are not allowed here: ${reason}`, { context: { statement: kind } })
}

/** The size limit, checked before anything looks at the text. */
export function checkSqlSize(sql: string, maxBytes: number): void {
  const bytes = Buffer.byteLength(sql, 'utf8')
  if (bytes > maxBytes) {
    throw new ColdpipeError('SQL_TOO_LARGE', `the SQL statement is ${bytes} bytes; at most ${maxBytes} are accepted (api.sqlMaxStatementBytes)`, {
      context: { bytes, maxBytes },
    })
  }
}

/**
 * The textual half of the check: one read-only query, no file access. The sandboxed DuckDB in the worker
 * process is the other half (it parses, counts statements and refuses anything but SELECT).
 */
export function checkSqlText(sql: string): void {
  const { code, keywords, withStrings } = scanSql(sql)
  const trimmed = keywords.trim()
  if (!trimmed) throw new ColdpipeError('SQL_INVALID', 'the SQL is empty', { context: {} })
  const lead = trimmed.startsWith('(') ? '(' : (/^[A-Za-z_]+/.exec(trimmed)?.[0] ?? trimmed.slice(0, 10)).toUpperCase()
  if (!allowedLeads.has(lead)) throw forbidden(lead, 'ad-hoc SQL is read-only, one SELECT query')
  // A `;` followed by anything but blanks: several statements (a trailing `;` is fine).
  const semicolon = trimmed.indexOf(';')
  if (semicolon >= 0 && trimmed.slice(semicolon + 1).replace(/;/g, '').trim() !== '') throw forbidden('MULTIPLE', 'send one statement per request (several statements are refused over HTTP)')
  const fileCall = fileFunctions.exec(code)
  if (fileCall) throw forbidden('FILE_ACCESS', `${fileCall[1]}() reads outside the snapshot`)
  if (/\b(?:from|join)\s+'/i.test(withStrings) || /\b(?:from|join)\s+'/i.test(code)) throw forbidden('FILE_ACCESS', 'file paths as tables read outside the snapshot')
  for (const { keyword, pattern } of keywordPatterns) {
    if (pattern.test(trimmed)) throw forbidden(keyword, 'ad-hoc SQL is read-only, one SELECT query')
  }
}
