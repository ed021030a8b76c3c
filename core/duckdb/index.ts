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
} from './duckdb-database.ts'
