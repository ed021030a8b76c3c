export { createExporter, type Exporter, type ExporterOptions, type ExportRunRecord, type RunExportOptions } from './exporter.ts'
export { type ExportProgressEvent, type ExportProgressListener } from './export-progress.ts'
export { readRecordedSourceHealth, SourceGuard, type SourceGuardOptions, type SourceGuardSettings, type SourceHealth, type SourceHealthProvider } from './source-guard.ts'
export { type SourceColumn, type SourceConnector, type SourceTable } from './source-connector.ts'
export {
  ExportConfigSchema,
  ExportTableSchema,
  SourceConfigSchema,
  exportTableDefaults,
  sourceDefaults,
  type ExportConfig,
  type ExportTableConfig,
  type SourceConfig,
} from './export-config.ts'
