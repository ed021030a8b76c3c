export {
  baseDuckDbSettings,
  openDatabase,
  quoteIdent,
  quoteLiteral,
  type ColumnInfo,
  type Database,
  type OpenDatabaseOptions,
  type PreparedSql,
  type QueryResult,
  type ReusableStatement,
  type SqlParam,
  type SqlParams,
  type SqlStatements,
  type StatementsInfo,
} from './duckdb-database.ts'
export { DeferredDatabase, openSoon } from './deferred-database.ts'
export { type RowStream } from './stream-rows.ts'
