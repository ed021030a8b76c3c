import type { FastifyInstance } from 'fastify'
import { ColdpipeError, isColdpipeError } from '../core/errors.ts'
import type { ApiConfig } from './api-config.ts'
import type { QueryLimiter } from './query-limiter.ts'
import type { SnapshotPool } from './snapshot-pool.ts'

/** Leading keywords of the statements ad-hoc SQL may run: queries only. */
const allowedLeads = new Set(['SELECT', 'WITH', 'FROM', 'VALUES', 'TABLE', '('])

/**
 * Table functions that read files or other databases. The sandbox (enable_external_access=false) refuses them
 * anyway; refusing them here as well gives a clear code and keeps a second wall if a setting ever slips.
 */
const fileFunctions = /\b(read_\w+|glob|sniff_csv|parquet_\w+|iceberg_\w+|delta_scan|sqlite_\w+|postgres_\w+|mysql_\w+|query_table|duckdb_secrets|load_extension)\s*\(/i

function stripCommentsAndStrings(sql: string): { code: string; keywords: string; withStrings: string } {
  const withStrings = sql.replace(/--[^\n]*/g, ' ').replace(/\/\*[\s\S]*?\*\//g, ' ')
  const noStrings = withStrings.replace(/'(?:[^']|'')*'/g, "''")
  // For function calls quoted identifiers are unquoted, not blanked: `"read_csv"(…)` is still read_csv; for
  // statement keywords they are blanked, so a column quoted as "load" is fine.
  return { code: noStrings.replace(/"/g, ''), keywords: noStrings.replace(/"(?:[^"]|"")*"/g, '""'), withStrings }
}

function forbidden(kind: string, reason: string): ColdpipeError {
  return new ColdpipeError('SQL_FORBIDDEN', `${kind} statements are not allowed here: ${reason}`, { context: { statement: kind } })
}

/** The textual half of the check: one read-only query, no file access. DuckDB's own parse is the other half. */
export function checkSqlText(sql: string): void {
  const { code, keywords, withStrings } = stripCommentsAndStrings(sql)
  const trimmed = keywords.trim()
  if (!trimmed) throw new ColdpipeError('SQL_INVALID', 'the SQL is empty', { context: {} })
  const lead = trimmed.startsWith('(') ? '(' : (/^[A-Za-z_]+/.exec(trimmed)?.[0] ?? trimmed.slice(0, 10)).toUpperCase()
  if (!allowedLeads.has(lead)) throw forbidden(lead, 'ad-hoc SQL is read-only, one SELECT query')
  if (/;\s*\S/.test(trimmed)) throw forbidden('MULTIPLE', 'send one statement per request')
  const fileCall = fileFunctions.exec(code)
  if (fileCall) throw forbidden('FILE_ACCESS', `${fileCall[1]}() reads outside the snapshot`)
  if (/\b(from|join)\s+'/i.test(withStrings) || /\b(from|join)\s+'/i.test(code)) throw forbidden('FILE_ACCESS', 'file paths as tables read outside the snapshot')
  for (const keyword of ['ATTACH', 'DETACH', 'INSTALL', 'LOAD', 'COPY', 'EXPORT', 'IMPORT', 'PRAGMA', 'CALL', 'SET', 'RESET', 'CREATE', 'INSERT', 'UPDATE', 'DELETE', 'DROP', 'ALTER']) {
    // Inside a query these can only appear as statements of a CTE body (e.g. WITH … INSERT), never as clauses;
    // `SET` and `UPDATE` are matched only in statement position.
    const pattern = keyword === 'SET' || keyword === 'UPDATE' || keyword === 'RESET' ? new RegExp(`(^|[;(]\\s*)${keyword}\\b`, 'i') : new RegExp(`\\b${keyword}\\b`, 'i')
    if (pattern.test(trimmed)) throw forbidden(keyword, 'ad-hoc SQL is read-only, one SELECT query')
  }
}

export function registerSqlRoute(app: FastifyInstance, deps: { pool: SnapshotPool; limiter: QueryLimiter; config: ApiConfig; sqlAllowed: (callerSql: boolean) => void }): void {
  app.post(
    '/sql',
    {
      schema: {
        summary: 'Run one read-only ad-hoc query on the current snapshot (sandboxed; needs an API key with sql: true)',
        tags: ['sql'],
        body: {
          type: 'object',
          required: ['sql'],
          additionalProperties: false,
          properties: { sql: { type: 'string', minLength: 1, maxLength: 100_000, description: 'One SELECT statement' } },
        },
      },
    },
    async (request, reply) => {
      deps.sqlAllowed(request.caller?.sql ?? false)
      const { sql } = request.body as { sql: string }
      checkSqlText(sql)
      const lease = await deps.pool.lease()
      try {
        const result = await deps.limiter.run(() =>
          lease.query('sql', deps.config.sqlTimeoutMs, 'SQL_TIMEOUT', async (db) => {
            let info
            try {
              info = await db.inspectStatements(sql)
            } catch (error) {
              throw new ColdpipeError('SQL_INVALID', isColdpipeError(error) ? error.message : String(error), { cause: error, context: {} })
            }
            if (info.count !== 1) throw forbidden('MULTIPLE', 'send one statement per request')
            if (info.firstKind !== 'SELECT') throw forbidden(info.firstKind, 'ad-hoc SQL is read-only, one SELECT query')
            try {
              return await db.queryJsonUpTo(sql, deps.config.sqlMaxRows)
            } catch (error) {
              // The sandbox's refusals (file access, extensions, locked settings) arrive as DuckDB permission or
              // locked-configuration errors; DuckDB exposes no error type beyond its message prefix.
              if (isColdpipeError(error) && /^(Permission Error|Invalid Input Error: Cannot change configuration)/.test(error.message)) {
                throw new ColdpipeError('SQL_FORBIDDEN', `refused by the sandbox: ${error.message}`, { cause: error, context: { statement: 'SANDBOX' } })
              }
              if (isColdpipeError(error) && error.code === 'WAREHOUSE_QUERY_FAILED') {
                throw new ColdpipeError('SQL_INVALID', error.message, { cause: error, context: {} })
              }
              throw error
            }
          }),
        )
        reply.header('x-coldpipe-snapshot', String(lease.manifest.id))
        return {
          snapshot: { id: lease.manifest.id, publishedAt: lease.manifest.publishedAt },
          columns: result.columns,
          rows: result.rows,
          truncated: result.truncated,
          maxRows: deps.config.sqlMaxRows,
        }
      } finally {
        lease.release()
      }
    },
  )
}
