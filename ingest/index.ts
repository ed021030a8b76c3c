export { startChangeIngest, type ChangeIngest, type ChangeIngestStats, type ChangesConfigInput, type StartChangeIngestOptions, type LandOutcome } from './changes/index.ts'
export { createExporter, type Exporter, type ExporterOptions, type ExportRunRecord, type RunExportOptions, type SourceHealth } from './export/index.ts'
