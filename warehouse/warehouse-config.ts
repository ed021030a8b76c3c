import { Type, type Static } from '@sinclair/typebox'
import { MaintenanceConfigSchema } from './maintenance-config.ts'

export const warehouseDefaults = {
  keepSnapshots: 5,
  memoryLimit: '2GB',
  threads: 2,
  publishIntervalMs: 60_000,
} as const

export const WarehouseConfigSchema = Type.Object(
  {
    path: Type.String({ minLength: 1 }),
    keepSnapshots: Type.Integer({ minimum: 1, default: warehouseDefaults.keepSnapshots }),
    /** Also keep snapshots younger than this, whatever their count. */
    keepForHours: Type.Optional(Type.Number({ minimum: 0 })),
    memoryLimit: Type.String({ minLength: 1, default: warehouseDefaults.memoryLimit }),
    threads: Type.Integer({ minimum: 1, default: warehouseDefaults.threads }),
    /** While change ingest runs, publish this often. */
    publishIntervalMs: Type.Integer({ minimum: 1000, default: warehouseDefaults.publishIntervalMs }),
    /**
     * Moved to the top-level `pii` section (masking happens before landing). Kept in the schema only so that
     * loading a config that still sets them fails with a message saying where they went.
     */
    pii: Type.Optional(Type.Array(Type.Unknown())),
    piiKey: Type.Optional(Type.String()),
    /** Keep deleted rows in current-state tables, flagged by `_cp_deleted`, instead of removing them. */
    softDeletes: Type.Boolean({ default: false }),
    /** Compaction and retention settings (`maintenance-config.ts`). */
    maintenance: Type.Optional(MaintenanceConfigSchema),
  },
  { additionalProperties: false },
)
export type WarehouseConfig = Static<typeof WarehouseConfigSchema>
