/**
 * The one list of coldpipe error codes. Each code carries the HTTP status the reports API maps it to,
 * and whether retrying the same operation can succeed (used by jobs' retry policies).
 * Add new codes here; never match on error message text.
 */
export const errorDefinitions = {
  // configuration and input
  CONFIG_NOT_FOUND: { status: 500, canRetry: false },
  CONFIG_PARSE_FAILED: { status: 500, canRetry: false },
  CONFIG_INVALID: { status: 500, canRetry: false },
  CONFIG_ENV_MISSING: { status: 500, canRetry: false },
  // lake
  LAKE_COMMIT_CONFLICT: { status: 409, canRetry: true },
  /** A conditional commit found a watermark moved by another writer; re-read and redo the work. */
  LAKE_WATERMARK_MOVED: { status: 409, canRetry: true },
  LAKE_IO_FAILED: { status: 500, canRetry: true },
  /** No space left (ENOSPC/EDQUOT) on the lake's volume; the work resumes once space is freed. */
  LAKE_DISK_FULL: { status: 507, canRetry: true },
  LAKE_LOG_CORRUPT: { status: 500, canRetry: false },
  /** `_lake.json` names a lake format newer than this coldpipe reads. */
  LAKE_FORMAT_UNSUPPORTED: { status: 500, canRetry: false },
  /** A lake version older than the log's oldest retained checkpoint was asked for; rebuild from the current state. */
  LAKE_VERSION_EXPIRED: { status: 410, canRetry: false },
  /** A lake data file cannot be read (truncated, overwritten, missing); publish quarantines it and goes on. */
  LAKE_FILE_CORRUPT: { status: 500, canRetry: false },
  // sources and exports
  SOURCE_UNKNOWN: { status: 404, canRetry: false },
  SOURCE_CONNECT_FAILED: { status: 503, canRetry: true },
  SOURCE_QUERY_FAILED: { status: 500, canRetry: true },
  SOURCE_CIRCUIT_OPEN: { status: 503, canRetry: false },
  /** No bytes from the source for readTimeoutMs while a read waited (a stalled connection or server). */
  SOURCE_READ_TIMEOUT: { status: 504, canRetry: true },
  EXPORT_TABLE_NOT_FOUND: { status: 404, canRetry: false },
  EXPORT_TYPE_UNSUPPORTED: { status: 500, canRetry: false },
  EXPORT_SCHEMA_INCOMPATIBLE: { status: 500, canRetry: false },
  EXPORT_FAILED: { status: 500, canRetry: true },
  /**
   * DuckDB refused a source value for its lake type (a NaN in a DECIMAL column, a value the conversion SQL
   * rejects): the same data fails the same way, so the table fails without retries until the data changes.
   */
  EXPORT_VALUE_INVALID: { status: 500, canRetry: false },
  /** The run's AbortSignal fired (job deadline, shutdown); the table was stopped, nothing of it committed. */
  EXPORT_ABORTED: { status: 503, canRetry: false },
  // change ingest
  INGEST_DECODE_FAILED: { status: 400, canRetry: false },
  INGEST_FAILED: { status: 500, canRetry: true },
  INGEST_TYPE_CONFLICT: { status: 400, canRetry: false },
  INGEST_BROKER_FAILED: { status: 503, canRetry: true },
  // warehouse
  WAREHOUSE_NO_SNAPSHOT: { status: 503, canRetry: true },
  WAREHOUSE_SNAPSHOT_NOT_FOUND: { status: 404, canRetry: false },
  WAREHOUSE_QUERY_FAILED: { status: 500, canRetry: false },
  WAREHOUSE_READ_ONLY: { status: 403, canRetry: false },
  WAREHOUSE_PUBLISH_FAILED: { status: 500, canRetry: true },
  /** No space left on the warehouse's volume while publishing; the previous snapshot stays current. */
  WAREHOUSE_DISK_FULL: { status: 507, canRetry: true },
  WAREHOUSE_MODEL_FAILED: { status: 500, canRetry: false },
  WAREHOUSE_DATA_TEST_FAILED: { status: 500, canRetry: false },
  // reports API
  REPORT_NOT_FOUND: { status: 404, canRetry: false },
  REPORT_DEFINITION_INVALID: { status: 500, canRetry: false },
  REPORT_PARAM_INVALID: { status: 400, canRetry: false },
  REPORT_PARAM_MISSING: { status: 400, canRetry: false },
  REPORT_PARAM_UNKNOWN: { status: 400, canRetry: false },
  REPORT_FORMAT_UNSUPPORTED: { status: 406, canRetry: false },
  REPORT_STALE: { status: 503, canRetry: true },
  REPORT_TIMEOUT: { status: 504, canRetry: true },
  /** A streamed download stopped before its end (client went away, stream deadline); the query was interrupted. */
  STREAM_ABORTED: { status: 503, canRetry: true },
  SQL_DISABLED: { status: 404, canRetry: false },
  SQL_FORBIDDEN: { status: 400, canRetry: false },
  SQL_INVALID: { status: 400, canRetry: false },
  SQL_TIMEOUT: { status: 504, canRetry: false },
  /** The statement text is longer than api.sqlMaxStatementBytes. */
  SQL_TOO_LARGE: { status: 413, canRetry: false },
  /** An ad-hoc query went over DuckDB's memory_limit or its worker process over api.sqlWorkerMaxRssBytes (worker killed). */
  SQL_MEMORY_EXCEEDED: { status: 507, canRetry: false },
  /** The client closed the connection before the answer; only ever seen in logs. */
  REQUEST_ABORTED: { status: 499, canRetry: false },
  AUTH_REQUIRED: { status: 401, canRetry: false },
  AUTH_FORBIDDEN: { status: 403, canRetry: false },
  RATE_LIMITED: { status: 429, canRetry: true },
  OVERLOADED: { status: 503, canRetry: true },
  ROUTE_NOT_FOUND: { status: 404, canRetry: false },
  REQUEST_INVALID: { status: 400, canRetry: false },
  /** A known path asked with a method it does not answer (the Allow header lists those it does). */
  METHOD_NOT_ALLOWED: { status: 405, canRetry: false },
  /** The client did not send the whole request in time (Node's requestTimeout / headersTimeout). */
  REQUEST_TIMEOUT: { status: 408, canRetry: true },
  /** The request body is larger than the API's body limit. */
  REQUEST_TOO_LARGE: { status: 413, canRetry: false },
  /** The request's content type is not one the route reads (JSON). */
  MEDIA_TYPE_UNSUPPORTED: { status: 415, canRetry: false },
  /** The request line (URL) or headers are larger than Node's header limit (16 KB by default). */
  REQUEST_HEADERS_TOO_LARGE: { status: 431, canRetry: false },
  // jobs
  JOB_NOT_FOUND: { status: 404, canRetry: false },
  JOB_ALREADY_RUNNING: { status: 409, canRetry: true },
  JOB_FAILED: { status: 500, canRetry: true },
  JOB_OPTIONS_INVALID: { status: 400, canRetry: false },
  JOB_NOT_CONFIGURED: { status: 501, canRetry: false },
  JOB_LEASE_LOST: { status: 409, canRetry: false },
  JOB_ABANDONED: { status: 500, canRetry: true },
  /** A run went past its deadline (jobs.runTimeoutMs or an override); it was aborted and recorded failed. */
  JOB_DEADLINE_EXCEEDED: { status: 504, canRetry: true },
  JOB_SCHEDULE_INVALID: { status: 500, canRetry: false },
  // personal data (docs/personal-data.md)
  /** The lake's files were masked with other actions or another key than the config says; `coldpipe pii rebuild` re-masks them. */
  PII_MASKING_CHANGED: { status: 409, canRetry: false },
  /** The masking key's environment variable is unset or too short where masking or erasure needs it. */
  PII_KEY_MISSING: { status: 500, canRetry: false },
  /** A rebuild cannot compute the new masking from what the lake holds (the plaintext is gone). */
  PII_REBUILD_UNSUPPORTED: { status: 409, canRetry: false },
  /** A hashed export column's type renders differently in the source and in DuckDB, so the source cannot hash it alike. */
  PII_TYPE_UNSUPPORTED: { status: 500, canRetry: false },
  /** An erasure could not be carried out (named subject unknown, value malformed, rewrite failed). */
  ERASURE_FAILED: { status: 500, canRetry: true },
  // reconciliation
  /** A table's reconciliation could not be carried out (not: the table differs, which is a result). */
  RECONCILE_FAILED: { status: 500, canRetry: false },
  RECONCILE_TABLE_NOT_FOUND: { status: 404, canRetry: false },
  // demo
  DEMO_FAILED: { status: 500, canRetry: false },
  INTERNAL: { status: 500, canRetry: false },
} as const satisfies Record<string, { status: number; canRetry: boolean }>

export type ErrorCode = keyof typeof errorDefinitions

export interface ColdpipeErrorOptions {
  cause?: unknown
  /** Structured facts about where it happened: field path, table, topic/partition/offset, ... */
  context?: Record<string, unknown>
  /** Overrides the code's default retry flag when the situation says otherwise. */
  canRetry?: boolean
}

export class ColdpipeError extends Error {
  readonly code: ErrorCode
  readonly status: number
  readonly canRetry: boolean
  readonly context: Record<string, unknown>

  constructor(code: ErrorCode, message: string, options: ColdpipeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'ColdpipeError'
    this.code = code
    this.status = errorDefinitions[code].status
    this.canRetry = options.canRetry ?? errorDefinitions[code].canRetry
    this.context = options.context ?? {}
  }

  toJSON(): { code: ErrorCode; message: string; context: Record<string, unknown> } {
    return { code: this.code, message: this.message, context: this.context }
  }
}

export function isColdpipeError(error: unknown, code?: ErrorCode): error is ColdpipeError {
  return error instanceof ColdpipeError && (code === undefined || error.code === code)
}

/** The message of anything thrown, for wrapping foreign errors at a boundary. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}
