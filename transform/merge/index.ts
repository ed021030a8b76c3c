export { liveRowPredicate, mergeStagedSql, readParquetSql, replaceStateSql, versionOrderSql, type MergeKind, type MergeTarget } from './merge-sql.ts'
