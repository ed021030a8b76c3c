import { Type, type Static } from '@sinclair/typebox'

const mib = 1024 * 1024

export const maintenanceDefaults = {
  compaction: {
    /** Files below this are worth merging (a flush at the default ingest settings writes at most 32 MiB). */
    smallFileBytes: 32 * mib,
    /** Small files are packed into outputs of at most this many input bytes. */
    targetFileBytes: 256 * mib,
    /** A table's small files are merged once there are at least this many of them. */
    minFiles: 4,
    /** Hard bound: after a compaction no table has more active files than this. */
    maxActiveFilesPerTable: 64,
    /** Inputs read by one output write: bounds open files and DuckDB's footprint per write. */
    maxInputFilesPerOutput: 500,
    memoryLimit: '1GB',
    threads: 2,
  },
  retention: {
    /** Lake files removed by a commit, orphans and temp files younger than this may still be read or written. */
    graceMs: 3_600_000,
    /** Dead-letter files older than this are removed. */
    deadLetterKeepDays: 30,
    /**
     * Export run records (`_state/export-runs/`) older than this are removed. They let a re-run of the same
     * run id skip the tables it committed; as long as the commit log keeps commits (7 days by default).
     */
    runRecordKeepDays: 7,
  },
} as const

const d = maintenanceDefaults

export const CompactionConfigSchema = Type.Object(
  {
    smallFileBytes: Type.Integer({ minimum: 1, default: d.compaction.smallFileBytes }),
    targetFileBytes: Type.Integer({ minimum: 1, default: d.compaction.targetFileBytes }),
    minFiles: Type.Integer({ minimum: 2, default: d.compaction.minFiles }),
    maxActiveFilesPerTable: Type.Integer({ minimum: 1, default: d.compaction.maxActiveFilesPerTable }),
    maxInputFilesPerOutput: Type.Integer({ minimum: 2, default: d.compaction.maxInputFilesPerOutput }),
    memoryLimit: Type.String({ minLength: 1, default: d.compaction.memoryLimit }),
    threads: Type.Integer({ minimum: 1, default: d.compaction.threads }),
  },
  { additionalProperties: false, default: {} },
)
export type CompactionConfig = Static<typeof CompactionConfigSchema>

export const RetentionConfigSchema = Type.Object(
  {
    graceMs: Type.Integer({ minimum: 0, default: d.retention.graceMs }),
    deadLetterKeepDays: Type.Number({ minimum: 0, default: d.retention.deadLetterKeepDays }),
    runRecordKeepDays: Type.Number({ minimum: 0, default: d.retention.runRecordKeepDays }),
  },
  { additionalProperties: false, default: {} },
)
export type RetentionConfig = Static<typeof RetentionConfigSchema>

/** `warehouse.maintenance`: how compaction and retention keep the lake bounded. */
export const MaintenanceConfigSchema = Type.Object(
  {
    compaction: CompactionConfigSchema,
    retention: RetentionConfigSchema,
  },
  { additionalProperties: false, default: {} },
)
export type MaintenanceConfig = Static<typeof MaintenanceConfigSchema>
