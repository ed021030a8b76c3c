import { Type, type Static } from '@sinclair/typebox'

export const reconcileDefaults = {
  timezone: 'UTC',
  /** Added to each table's own lagSeconds: rows changed this close to the compare point are not compared. */
  lagSeconds: 60,
  /** Segments of the first pass (one aggregate row each crosses the network). */
  segments: 1024,
  /** Aim for about this many rows per first-pass segment (fewer segments for small tables). */
  segmentRows: 10_000,
  /** Sub-segments a differing segment is cut into per narrowing step. */
  fanOut: 64,
  /** A differing segment of at most this many rows (either side) has its rows fetched and compared. */
  leafRows: 256,
  maxDepth: 8,
  /** Rows fetched per table (both sides together) at most; differing segments beyond it stay unresolved. */
  maxFetchRows: 20_000,
  /** Keys of rows changed after the compare point fetched (keys only) to leave them out on the warehouse side too. */
  maxTooNewKeys: 1_000_000,
  /** Keys reported per kind (missing, extra, different) and differing segments listed, per table. */
  maxReportedKeys: 20,
  maxReportedSegments: 20,
  /** Least time between two statements on a source (rate limit); 0 for none. */
  minQueryIntervalMs: 0,
  /** Connections to a PostgreSQL source, in one shared snapshot, that split the checksum pass of a table. */
  sourceConnections: 2,
  /** Compute the warehouse side's checksums after each publish, so the next reconciliation only reads the source. */
  precompute: true,
} as const

export const ReconcileConfigSchema = Type.Object(
  {
    /** Cron expression of the `reconcile` job; without it the job only runs by hand (`coldpipe reconcile`, `jobs run reconcile`). */
    schedule: Type.Optional(Type.String({ minLength: 1 })),
    timezone: Type.String({ minLength: 1, default: reconcileDefaults.timezone }),
    /** Deadline of a run; default the longest of `jobs.runTimeoutMs` (a kind it does not list). */
    runTimeoutMs: Type.Optional(Type.Integer({ minimum: 1000, maximum: 2_147_483_647 })),
    /** Per source: a read replica's URL to reconcile against instead of the primary (`${ENV}` allowed). */
    replicaUrls: Type.Record(Type.String(), Type.String({ minLength: 1 }), { default: {} }),
    /** Per change-fed table (`service.table`): the source column that says when a row last changed. */
    cursors: Type.Record(Type.String(), Type.String({ minLength: 1 }), { default: {} }),
    lagSeconds: Type.Integer({ minimum: 0, default: reconcileDefaults.lagSeconds }),
    segments: Type.Integer({ minimum: 1, maximum: 65_536, default: reconcileDefaults.segments }),
    segmentRows: Type.Integer({ minimum: 1, default: reconcileDefaults.segmentRows }),
    fanOut: Type.Integer({ minimum: 2, maximum: 4096, default: reconcileDefaults.fanOut }),
    leafRows: Type.Integer({ minimum: 1, default: reconcileDefaults.leafRows }),
    maxDepth: Type.Integer({ minimum: 1, maximum: 64, default: reconcileDefaults.maxDepth }),
    maxFetchRows: Type.Integer({ minimum: 0, default: reconcileDefaults.maxFetchRows }),
    maxTooNewKeys: Type.Integer({ minimum: 0, default: reconcileDefaults.maxTooNewKeys }),
    maxReportedKeys: Type.Integer({ minimum: 0, default: reconcileDefaults.maxReportedKeys }),
    maxReportedSegments: Type.Integer({ minimum: 0, default: reconcileDefaults.maxReportedSegments }),
    minQueryIntervalMs: Type.Integer({ minimum: 0, default: reconcileDefaults.minQueryIntervalMs }),
    sourceConnections: Type.Integer({ minimum: 1, maximum: 16, default: reconcileDefaults.sourceConnections }),
    precompute: Type.Boolean({ default: reconcileDefaults.precompute }),
  },
  { additionalProperties: false },
)
export type ReconcileConfig = Static<typeof ReconcileConfigSchema>

/** The tuning part of the config, as one table's comparison uses it. */
export type ReconcileSettings = Pick<ReconcileConfig, 'lagSeconds' | 'segments' | 'segmentRows' | 'fanOut' | 'leafRows' | 'maxDepth' | 'maxFetchRows' | 'maxTooNewKeys' | 'maxReportedKeys' | 'maxReportedSegments' | 'minQueryIntervalMs' | 'sourceConnections'>

/** Settings with defaults filled in for whatever the config left out. */
export function reconcileSettings(config: Partial<ReconcileConfig> | undefined): ReconcileConfig {
  return { ...reconcileDefaults, replicaUrls: {}, cursors: {}, ...(config ?? {}) } as ReconcileConfig
}
