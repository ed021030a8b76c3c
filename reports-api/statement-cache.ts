import type { Database, QueryResult, ReusableStatement, SqlParams } from '../core/duckdb/index.ts'

/**
 * Report statements prepared once per pooled connection and reused: running a report's SQL with parameters
 * otherwise parses, binds and plans it on every request, which was most of what an uncached report cost
 * beyond DuckDB's own run. Keyed by the SQL text (a new report version or page is a new text); the least
 * recently used statement is closed past `maxPerConnection`. A pooled connection runs one query at a time,
 * so a statement is never closed under a running query; closing the connection closes its statements.
 */
export class StatementCache {
  private readonly byConnection = new WeakMap<Database, Map<string, ReusableStatement>>()

  constructor(private readonly maxPerConnection = 32) {}

  async queryJson(db: Database, sql: string, params: SqlParams): Promise<QueryResult> {
    let statements = this.byConnection.get(db)
    if (!statements) this.byConnection.set(db, (statements = new Map()))
    let statement = statements.get(sql)
    if (statement) {
      // Map order is insertion order: moving a used statement to the end keeps the oldest first.
      statements.delete(sql)
      statements.set(sql, statement)
    } else {
      statement = await db.prepare(sql)
      statements.set(sql, statement)
      if (statements.size > this.maxPerConnection) {
        const [oldestSql, oldest] = statements.entries().next().value as [string, ReusableStatement]
        statements.delete(oldestSql)
        oldest.close()
      }
    }
    return statement.queryJson(params)
  }
}
