export { keyMatch, latestPerKeySql, liveRowPredicate, mergeStagedSql, readParquetSql, replaceStateSql, stateIsNewerSql, versionOrderSql, type MergeKind, type MergeTarget } from './merge-sql.ts'
