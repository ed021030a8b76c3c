export {
  baseDuckDbSettings,
  openDatabase,
  quoteIdent,
  quoteLiteral,
  type ColumnInfo,
  type Database,
  type OpenDatabaseOptions,
  type QueryResult,
  type SqlParam,
  type SqlParams,
  type StatementsInfo,
} from './duckdb-database.ts'
