import { Type, type Static } from '@sinclair/typebox'

export const sourceDefaults = {
  maxConnections: 2,
  connectTimeoutMs: 10_000,
  /**
   * No bytes for this long while a read waits = a stall (coded SOURCE_READ_TIMEOUT, retried). Generous: a
   * filtered scan of a big table may send nothing for minutes before its first matching row.
   */
  readTimeoutMs: 300_000,
  /** Export run records kept per source in `_state/export-runs/` (older ones are pruned after each run). */
  keepRunRecords: 100,
  retryMaxAttempts: 4,
  retryInitialDelayMs: 500,
  retryMaxDelayMs: 30_000,
  breakerFailureThreshold: 3,
  breakerHalfOpenAfterMs: 60_000,
} as const

export const SourceConfigSchema = Type.Object(
  {
    kind: Type.Union([Type.Literal('postgres'), Type.Literal('mysql')]),
    /** postgres://user:pass@host:port/db or mysql://user:pass@host:port/db; `${ENV}` allowed. */
    url: Type.String({ minLength: 1 }),
    /** Postgres schema or MySQL database to read tables from; defaults to `public` / the URL's database. */
    schema: Type.Optional(Type.String({ minLength: 1 })),
    maxConnections: Type.Integer({ minimum: 1, default: sourceDefaults.maxConnections }),
    connectTimeoutMs: Type.Integer({ minimum: 1, default: sourceDefaults.connectTimeoutMs }),
    readTimeoutMs: Type.Integer({ minimum: 1, default: sourceDefaults.readTimeoutMs }),
    keepRunRecords: Type.Integer({ minimum: 1, default: sourceDefaults.keepRunRecords }),
    retryMaxAttempts: Type.Integer({ minimum: 0, default: sourceDefaults.retryMaxAttempts }),
    retryInitialDelayMs: Type.Integer({ minimum: 1, default: sourceDefaults.retryInitialDelayMs }),
    retryMaxDelayMs: Type.Integer({ minimum: 1, default: sourceDefaults.retryMaxDelayMs }),
    breakerFailureThreshold: Type.Integer({ minimum: 1, default: sourceDefaults.breakerFailureThreshold }),
    breakerHalfOpenAfterMs: Type.Integer({ minimum: 1, default: sourceDefaults.breakerHalfOpenAfterMs }),
  },
  { additionalProperties: false },
)
export type SourceConfig = Static<typeof SourceConfigSchema>

export const exportTableDefaults = {
  mode: 'full',
  lagSeconds: 0,
  chunkRows: 250_000,
} as const

export const ExportTableSchema = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    mode: Type.Union([Type.Literal('full'), Type.Literal('incremental')], { default: exportTableDefaults.mode }),
    /** Incremental only: the increasing column (updated_at, or an id) that says what changed. */
    cursor: Type.Optional(Type.String({ minLength: 1 })),
    /** Primary key columns; incremental rows are merged by them. */
    key: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
    columns: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
    /** A SQL predicate in the source's dialect, e.g. `deleted_at is null`. */
    where: Type.Optional(Type.String({ minLength: 1 })),
    /** Re-read this far behind the last watermark, for rows committed late with an older cursor value. */
    lagSeconds: Type.Integer({ minimum: 0, default: exportTableDefaults.lagSeconds }),
    chunkRows: Type.Integer({ minimum: 1, default: exportTableDefaults.chunkRows }),
    /**
     * Connections reading the table at once (PostgreSQL 14+ plain tables: ranges of pages, each its own COPY,
     * all in the run's snapshot); at most the source's maxConnections. Default 1: one stream.
     */
    parallelism: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
    /** A schedule of this table's own (job `export:<source>.<table>`); the source's schedule then leaves it out. */
    schedule: Type.Optional(Type.String({ minLength: 1 })),
    /** IANA timezone of the table's own schedule; default the export's timezone. */
    timezone: Type.Optional(Type.String({ minLength: 1 })),
    /** Deadline of a run of this table's own job (`export:<source>.<table>`); default the export's, then `jobs.runTimeoutMs.export`. */
    runTimeoutMs: Type.Optional(Type.Integer({ minimum: 1000, maximum: 2_147_483_647 })),
  },
  { additionalProperties: false },
)
export type ExportTableConfig = Static<typeof ExportTableSchema>

export const ExportConfigSchema = Type.Object(
  {
    source: Type.String({ minLength: 1 }),
    /** Cron expression (node-cron syntax, 5 or 6 fields). */
    schedule: Type.Optional(Type.String({ minLength: 1 })),
    /** IANA timezone the schedule is read in. */
    timezone: Type.String({ minLength: 1, default: 'UTC' }),
    /** Deadline of a run of this source's export job; default `jobs.runTimeoutMs.export`. */
    runTimeoutMs: Type.Optional(Type.Integer({ minimum: 1000, maximum: 2_147_483_647 })),
    tables: Type.Optional(Type.Array(ExportTableSchema)),
    /** Without `tables`: every table of the source whose name matches include (globs) and not exclude. */
    include: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    exclude: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  },
  { additionalProperties: false },
)
export type ExportConfig = Static<typeof ExportConfigSchema>
