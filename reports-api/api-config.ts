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
  sqlMaxConcurrent: 2,
  sqlMaxQueued: 8,
  sqlMaxStatementBytes: 64 * 1024,
  sqlMaxResultBytes: 8 * 1024 * 1024,
  sqlWorkerMaxRssBytes: 1024 * 1024 * 1024,
  sqlWorkerThreads: 1,
  sqlKillGraceMs: 500,
  reportsCheckIntervalMs: 250,
  maxStreamsPerKey: 2,
  maxStreams: 8,
  streamTimeoutMs: 3_600_000,
  streamMemoryLimit: '128MB',
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
    /** Named reports running at once (in-process DuckDB connections); ad-hoc SQL has its own pool below. */
    maxConcurrentQueries: Type.Integer({ minimum: 1, default: apiDefaults.maxConcurrentQueries }),
    /** Named reports waiting for a slot; past it OVERLOADED. Queue wait counts against reportTimeoutMs. */
    maxQueuedQueries: Type.Integer({ minimum: 0, default: apiDefaults.maxQueuedQueries }),
    /** Ad-hoc queries running at once, each in its own worker process (this many workers are kept open). */
    sqlMaxConcurrent: Type.Integer({ minimum: 1, default: apiDefaults.sqlMaxConcurrent }),
    /** Ad-hoc queries waiting for a worker; past it OVERLOADED. Queue wait counts against sqlTimeoutMs. */
    sqlMaxQueued: Type.Integer({ minimum: 0, default: apiDefaults.sqlMaxQueued }),
    /** Longest accepted statement text (UTF-8 bytes); longer → 413 SQL_TOO_LARGE. */
    sqlMaxStatementBytes: Type.Integer({ minimum: 16, default: apiDefaults.sqlMaxStatementBytes }),
    /** Most JSON bytes of rows a worker sends back; the rest is cut (`truncated`, `truncatedBy: bytes`). */
    sqlMaxResultBytes: Type.Integer({ minimum: 1024, default: apiDefaults.sqlMaxResultBytes }),
    /** A worker whose resident memory goes over this is killed (507 SQL_MEMORY_EXCEEDED) and replaced. */
    sqlWorkerMaxRssBytes: Type.Integer({ minimum: 64 * 1024 * 1024, default: apiDefaults.sqlWorkerMaxRssBytes }),
    /** DuckDB threads per SQL worker. */
    sqlWorkerThreads: Type.Integer({ minimum: 1, default: apiDefaults.sqlWorkerThreads }),
    /** After the interrupt at sqlTimeoutMs, how long a worker may take to stop before it is killed. */
    sqlKillGraceMs: Type.Integer({ minimum: 0, default: apiDefaults.sqlKillGraceMs }),
    /** Report results kept per snapshot (LRU by encoded size); 0 turns the cache off. */
    cacheMaxBytes: Type.Integer({ minimum: 0, default: apiDefaults.cacheMaxBytes }),
    /** DuckDB memory_limit of each SQL worker's sandboxed instance. */
    sqlMemoryLimit: Type.String({ minLength: 1, default: apiDefaults.sqlMemoryLimit }),
    /** Report files are re-checked for edits at most this often (per request, by mtime). */
    reportsCheckIntervalMs: Type.Integer({ minimum: 0, default: apiDefaults.reportsCheckIntervalMs }),
    /** Streamed downloads (reports `?stream=true` and /sql `stream: true` together) running at once per API key (per client address without keys); past it, 429. */
    maxStreamsPerKey: Type.Integer({ minimum: 1, default: apiDefaults.maxStreamsPerKey }),
    /** Streamed downloads running at once in the whole server; past it, 503. Each holds one DuckDB connection. */
    maxStreams: Type.Integer({ minimum: 1, default: apiDefaults.maxStreams }),
    /** A streamed download is stopped (query interrupted, connection cut) after this long. */
    streamTimeoutMs: Type.Integer({ minimum: 1, default: apiDefaults.streamTimeoutMs }),
    /** DuckDB memory_limit of the instance that serves streamed downloads (shared by all of them; bounds server memory). */
    streamMemoryLimit: Type.String({ minLength: 1, default: apiDefaults.streamMemoryLimit }),
    /** Without keys the reports are open (the demo); with keys every request needs one. */
    apiKeys: Type.Array(ApiKeySchema, { default: [] }),
  },
  { additionalProperties: false },
)
export type ApiConfig = Static<typeof ApiConfigSchema>
