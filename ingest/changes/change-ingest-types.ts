import type { Registry } from 'prom-client'
import type { Logger } from '../../core/logger.ts'
import type { LandOutcome } from './batch-lander.ts'
import type { changesDefaults, ChangesConfig } from './changes-config.ts'
import type { ChangeSource, TopicPartition } from './kafka-source.ts'

/** The public shapes of change ingest: its options, its running counters, and its handle. */

/** ChangesConfig as callers may write it: settings with defaults can be left out. */
export type ChangesConfigInput = Omit<ChangesConfig, keyof typeof changesDefaults> & Partial<Pick<ChangesConfig, keyof typeof changesDefaults>>

export interface StartChangeIngestOptions {
  config: ChangesConfigInput
  lakeRoot: string
  logger: Logger
  metrics?: Registry
  /**
   * Called after a batch is durably committed to the lake and before its offsets are committed to
   * Kafka; a returned promise is awaited (so a slow callback is a slow sink).
   */
  onCommitted?: (landed: LandOutcome) => void | Promise<void>
  /** Called when ingest stops on an error it cannot get past (the consumer is closed). */
  onFatal?: (error: Error) => void
  /** Called every `progressIntervalMs` with the counters, for a display (the library never writes to a terminal). */
  onProgress?: (stats: ChangeIngestStats) => void
  /** The Kafka side; defaults to a kafkajs consumer group from `config`. Tests may pass their own. */
  source?: ChangeSource
}

export interface ChangeIngestStats {
  runId: string
  received: number
  rowsLanded: number
  tombstones: number
  deadLetters: number
  /** Records at or below the lake watermark (landed before) or re-delivered after a rebalance. */
  replaySkipped: number
  /** Buffered records dropped at a rebalance; Kafka re-delivers them from the committed offset. */
  droppedOnRebalance: number
  files: number
  flushes: number
  pauses: number
  resumes: number
  paused: boolean
  bufferedBytes: number
  bufferedBytesHighWater: number
  assigned: TopicPartition[]
  /** Failed landing attempts so far (each retried, or the one that stopped ingest). */
  landingFailures: number
  /** Partitions whose landing is failing right now and being retried (a full disk waits here for space). */
  blockedPartitions: number
  /** The latest landing failure: code, message, and context (the path for LAKE_DISK_FULL). */
  lastLandingError: { code: string; message: string; context: Record<string, unknown>; at: string } | undefined
  /** Times the Kafka consumer crashed on a retriable error and restarted itself. */
  consumerRestarts: number
  /** Set once ingest has stopped on an error it could not get past. */
  failed: { code: string; message: string } | undefined
}

export interface ChangeIngest {
  /** Flushes what is buffered, commits it (lake, then Kafka offsets), leaves the group. */
  stop(): Promise<void>
  stats(): ChangeIngestStats
  readonly runId: string
}
