import { Type, type Static } from '@sinclair/typebox'

export const apiDefaults = {
  port: 3000,
  host: '127.0.0.1',
  maxRows: 100_000,
  reportTimeoutMs: 30_000,
  sqlEnabled: false,
  sqlMaxRows: 10_000,
  sqlTimeoutMs: 10_000,
  rateLimitPerMinute: 600,
  maxConcurrentQueries: 8,
  maxQueuedQueries: 64,
  cacheMaxBytes: 64 * 1024 * 1024,
  sqlMemoryLimit: '512MB',
  reportsCheckIntervalMs: 250,
} as const

export const ApiKeySchema = Type.Object(
  {
    key: Type.String({ minLength: 8 }),
    name: Type.String({ minLength: 1 }),
    /** Report names this key may run; `*` for all. */
    reports: Type.Array(Type.String({ minLength: 1 }), { default: ['*'] }),
    sql: Type.Boolean({ default: false }),
    jobs: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
)
export type ApiKeyConfig = Static<typeof ApiKeySchema>

export const ApiConfigSchema = Type.Object(
  {
    port: Type.Integer({ minimum: 0, maximum: 65535, default: apiDefaults.port }),
    host: Type.String({ minLength: 1, default: apiDefaults.host }),
    maxRows: Type.Integer({ minimum: 1, default: apiDefaults.maxRows }),
    reportTimeoutMs: Type.Integer({ minimum: 1, default: apiDefaults.reportTimeoutMs }),
    sqlEnabled: Type.Boolean({ default: apiDefaults.sqlEnabled }),
    sqlMaxRows: Type.Integer({ minimum: 1, default: apiDefaults.sqlMaxRows }),
    sqlTimeoutMs: Type.Integer({ minimum: 1, default: apiDefaults.sqlTimeoutMs }),
    rateLimitPerMinute: Type.Integer({ minimum: 1, default: apiDefaults.rateLimitPerMinute }),
    maxConcurrentQueries: Type.Integer({ minimum: 1, default: apiDefaults.maxConcurrentQueries }),
    maxQueuedQueries: Type.Integer({ minimum: 0, default: apiDefaults.maxQueuedQueries }),
    /** Report results kept per snapshot (LRU by encoded size); 0 turns the cache off. */
    cacheMaxBytes: Type.Integer({ minimum: 0, default: apiDefaults.cacheMaxBytes }),
    /** DuckDB memory limit of the sandboxed instance that runs ad-hoc SQL. */
    sqlMemoryLimit: Type.String({ minLength: 1, default: apiDefaults.sqlMemoryLimit }),
    /** Report files are re-checked for edits at most this often (per request, by mtime). */
    reportsCheckIntervalMs: Type.Integer({ minimum: 0, default: apiDefaults.reportsCheckIntervalMs }),
    /** Without keys the reports are open (the demo); with keys every request needs one. */
    apiKeys: Type.Array(ApiKeySchema, { default: [] }),
  },
  { additionalProperties: false },
)
export type ApiConfig = Static<typeof ApiConfigSchema>
