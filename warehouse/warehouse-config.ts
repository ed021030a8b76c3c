import { Type, type Static } from '@sinclair/typebox'
import { MaintenanceConfigSchema } from './maintenance-config.ts'

export const warehouseDefaults = {
  keepSnapshots: 5,
  memoryLimit: '2GB',
  threads: 2,
  publishIntervalMs: 60_000,
} as const

export const PiiColumnSchema = Type.Object(
  {
    /** `service.table.column` */
    column: Type.String({ pattern: '^[^.]+\\.[^.]+\\.[^.]+$' }),
    action: Type.Union([Type.Literal('hash'), Type.Literal('drop')]),
  },
  { additionalProperties: false },
)

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
    pii: Type.Array(PiiColumnSchema, { default: [] }),
    /** Key for keyed hashing of PII columns; `${ENV}` recommended. */
    piiKey: Type.Optional(Type.String({ minLength: 8 })),
    /** Keep deleted rows in current-state tables, flagged by `_cp_deleted`, instead of removing them. */
    softDeletes: Type.Boolean({ default: false }),
    /** Compaction and retention settings (`maintenance-config.ts`). */
    maintenance: Type.Optional(MaintenanceConfigSchema),
  },
  { additionalProperties: false },
)
export type WarehouseConfig = Static<typeof WarehouseConfigSchema>
