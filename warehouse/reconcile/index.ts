export { reconcile, toMicros, type ReconcileRun, type ReconcileRunOptions } from './reconcile-run.ts'
export { ReconcileConfigSchema, reconcileDefaults, reconcileSettings, type ReconcileConfig, type ReconcileSettings } from './reconcile-config.ts'
export { readResults, resultsDir, saveResult, type DifferingRow, type DifferingSegment, type ReconcileStatus, type ReconcileTableResult } from './reconcile-result.ts'
export { duckdbDialect, sourceDialect, type CompareColumn, type Dialect } from './canonical-sql.ts'
