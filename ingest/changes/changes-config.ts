import { Type, type Static } from '@sinclair/typebox'

export const changesDefaults = {
  groupId: 'coldpipe',
  clientId: 'coldpipe-ingest',
  flushMaxRows: 50_000,
  flushMaxBytes: 32 * 1024 * 1024,
  flushMaxAgeMs: 10_000,
  sessionTimeoutMs: 30_000,
  maxBufferedBytes: 256 * 1024 * 1024,
  pauseAfterFlushMs: 30_000,
  progressIntervalMs: 30_000,
  landingAttempts: 5,
  landingRetryMaxDelayMs: 30_000,
  requestTimeoutMs: 30_000,
  brokerRetries: 8,
  consumerRestarts: 10,
} as const

export const ChangeTopicSchema = Type.Object(
  {
    topic: Type.String({ minLength: 1 }),
    format: Type.Union([Type.Literal('debezium'), Type.Literal('integration-event')]),
    service: Type.String({ minLength: 1 }),
    /** Target table; integration events default to `events`. */
    table: Type.Optional(Type.String({ minLength: 1 })),
    /** Primary key columns of the source table, for merging change history into current state. */
    key: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
  },
  { additionalProperties: false },
)
export type ChangeTopicConfig = Static<typeof ChangeTopicSchema>

export const ChangesConfigSchema = Type.Object(
  {
    brokers: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
    groupId: Type.String({ minLength: 1, default: changesDefaults.groupId }),
    clientId: Type.String({ minLength: 1, default: changesDefaults.clientId }),
    topics: Type.Array(ChangeTopicSchema, { minItems: 1 }),
    flushMaxRows: Type.Integer({ minimum: 1, default: changesDefaults.flushMaxRows }),
    flushMaxBytes: Type.Integer({ minimum: 1, default: changesDefaults.flushMaxBytes }),
    flushMaxAgeMs: Type.Integer({ minimum: 1, default: changesDefaults.flushMaxAgeMs }),
    sessionTimeoutMs: Type.Integer({ minimum: 1000, default: changesDefaults.sessionTimeoutMs }),
    maxBufferedBytes: Type.Integer({ minimum: 1, default: changesDefaults.maxBufferedBytes }),
    /** A flush still running after this long pauses consumption until it finishes (a slow lake). */
    pauseAfterFlushMs: Type.Integer({ minimum: 1, default: changesDefaults.pauseAfterFlushMs }),
    /** How often the running counters are logged. */
    progressIntervalMs: Type.Integer({ minimum: 100, default: changesDefaults.progressIntervalMs }),
    /** Tries of a failing landing (I/O, DuckDB) before ingest stops; a full lake volume is retried until space is freed. */
    landingAttempts: Type.Integer({ minimum: 1, default: changesDefaults.landingAttempts }),
    /** The longest wait between landing retries (the backoff doubles from 400 ms up to this). */
    landingRetryMaxDelayMs: Type.Integer({ minimum: 100, default: changesDefaults.landingRetryMaxDelayMs }),
    /** A broker request (fetch, heartbeat, commit) unanswered this long fails and is retried on a new connection. */
    requestTimeoutMs: Type.Integer({ minimum: 100, default: changesDefaults.requestTimeoutMs }),
    /** kafkajs retries of a failing broker call before the consumer restarts itself. */
    brokerRetries: Type.Integer({ minimum: 0, default: changesDefaults.brokerRetries }),
    /** Consumer restarts in a row with no group join or fetched batch in between; one more stops ingest with INGEST_BROKER_FAILED. */
    consumerRestarts: Type.Integer({ minimum: 0, default: changesDefaults.consumerRestarts }),
    /** Passed through to kafkajs as-is. */
    ssl: Type.Optional(Type.Union([Type.Boolean(), Type.Record(Type.String(), Type.Unknown())])),
    sasl: Type.Optional(
      Type.Object(
        {
          mechanism: Type.Union([Type.Literal('plain'), Type.Literal('scram-sha-256'), Type.Literal('scram-sha-512')]),
          username: Type.String(),
          password: Type.String(),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
)
export type ChangesConfig = Static<typeof ChangesConfigSchema>

/**
 * Bytes one fetch may hand over (the kafkajs consumer's maxBytes, 2 MiB or an eighth of
 * `maxBufferedBytes`). kafkajs gathers a response in socket chunks and concatenates it, and the garbage
 * of both waits for V8's GC: 16 MiB fetches had the ingest peak at 479–510 MB RSS, 2 MiB at 387–397 MB,
 * with no more CPU (docs/ingest.md). Consumption pauses two fetches below the limit: a fetch already under
 * way when it pauses still fits, with room for a broker that overshoots maxBytes by a record batch.
 */
export function fetchMaxBytes(config: Pick<ChangesConfig, 'maxBufferedBytes'>): number {
  return Math.max(1, Math.min(2 * 1024 * 1024, Math.floor(config.maxBufferedBytes / 8)))
}
