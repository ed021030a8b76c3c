import { Registry } from 'prom-client'
import { openDatabase, type Database } from '../../core/duckdb/index.ts'
import { ColdpipeError, messageOf } from '../../core/errors.ts'
import { childLogger, newRunId, type Logger } from '../../core/logger.ts'
import { CommitLog } from '../../lake/index.ts'
import { BatchLander, type LandOutcome } from './batch-lander.ts'
import type { ChangeIngest, ChangeIngestStats, StartChangeIngestOptions } from './change-ingest-types.ts'
import type { ChangeRecord } from './change-record.ts'
import { changesDefaults, fetchMaxBytes, type ChangesConfig, type ChangeTopicConfig } from './changes-config.ts'
import { IngestMetrics } from './ingest-metrics.ts'
import { retryLanding } from './landing-retry.ts'
import { createKafkaSource, type ChangeSource, type TopicPartition } from './kafka-source.ts'
import { ReceiptStaging, type StagedLines } from './receipt-staging.ts'

export type { ChangeIngest, ChangeIngestStats, ChangesConfigInput, StartChangeIngestOptions } from './change-ingest-types.ts'

interface PartitionState {
  topic: ChangeTopicConfig
  partition: number
  /** What is buffered and not yet handed to a landing, staged as it arrived. */
  buffer: ReceiptStaging
  firstBufferedAt: number
  /** Highest offset buffered or landed in this generation; anything at or below it is a re-delivery. */
  seenThrough: bigint | undefined
  /** Set once the lake watermark has been read for this generation. */
  generation: number
  flushing: Promise<void>
  flushStartedAt: number | undefined
  /** Bytes held by batches handed to a landing and not yet landed. */
  inFlightBytes: number
  /** A landing of this partition is failing and waits to retry. */
  blocked: boolean
}

/**
 * Landings of different partitions run on this many DuckDB connections at once: one connection runs one
 * statement at a time, and a single landing leaves a core idle (about +35 % events/s at steady state on
 * two cores, docs/ingest.md).
 */
const landingConnections = 2

function tpKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`
}

/**
 * Consumes change topics with a consumer group and lands them in the lake exactly once:
 * per topic-partition buffers are flushed as one Parquet file per offset range, committed to the lake
 * (idempotency key and watermark per range), and only then are the offsets committed to Kafka.
 */
export async function startChangeIngest(options: StartChangeIngestOptions): Promise<ChangeIngest> {
  const config: ChangesConfig = { ...changesDefaults, ...options.config } as ChangesConfig
  const runId = newRunId('ingest')
  const logger = childLogger(options.logger, { runId, component: 'change-ingest' })
  const metrics = new IngestMetrics(options.metrics ?? new Registry())
  const topics = new Map(config.topics.map((t) => [t.topic, t]))
  const log = await CommitLog.open(options.lakeRoot, { logger })
  // One DuckDB thread: landings already run side by side on landingConnections, and a second worker thread per
  // statement only contends for the same two cores (alternating A/B, 360 k rows: 23 % fewer CPU-seconds, docs/ingest.md).
  const db: Database = await openDatabase(':memory:', { errorCode: 'INGEST_FAILED', threads: 1 })
  const landingDbs = [db, ...(await Promise.all(Array.from({ length: landingConnections - 1 }, () => db.connect())))]
  const closeDbs = (): void => {
    for (const each of landingDbs.slice(1)) each.close()
    db.close()
  }
  const lander = new BatchLander(landingDbs, log, runId, logger)
  const source = options.source ?? createKafkaSource(config, logger)
  // Schema'd Debezium topics are staged for DuckDB-side typing on arrival (receipt-staging.ts).
  const newBuffer = (topic: ChangeTopicConfig): ReceiptStaging => new ReceiptStaging(topic.format === 'debezium' ? lander.decoderFor(topic.topic) : undefined)

  const partitions = new Map<string, PartitionState>()
  let generation = 0
  let assigned: TopicPartition[] = []
  let paused = false
  let stopping = false
  let fatal: Error | undefined
  const counters = { received: 0, rowsLanded: 0, tombstones: 0, deadLetters: 0, replaySkipped: 0, droppedOnRebalance: 0, files: 0, flushes: 0, pauses: 0, resumes: 0, highWater: 0, landingFailures: 0, consumerRestarts: 0 }
  let blocked = 0
  let lastLandingError: ChangeIngestStats['lastLandingError']

  const bufferedBytes = (): number => {
    let total = 0
    for (const state of partitions.values()) total += state.buffer.heldBytes + state.inFlightBytes
    return total
  }
  const noteBuffered = (): void => {
    const now = bufferedBytes()
    if (now > counters.highWater) counters.highWater = now
    metrics.bufferedBytes.set(now)
  }

  const fail = (error: unknown): void => {
    if (fatal) return
    fatal = error instanceof ColdpipeError ? error : new ColdpipeError('INTERNAL', `change ingest failed: ${messageOf(error)}`, { cause: error })
    const code = (fatal as ColdpipeError).code
    metrics.stoppedOnError.inc({ code })
    logger.error({ err: fatal, code, context: (fatal as ColdpipeError).context }, 'change ingest stopped on an error; offsets after the last landed batch stay uncommitted')
    void source.close().catch(() => undefined)
    options.onFatal?.(fatal)
  }

  const slowFlush = (): boolean => {
    const now = Date.now()
    for (const state of partitions.values()) {
      if (state.flushStartedAt !== undefined && now - state.flushStartedAt > config.pauseAfterFlushMs) return true
    }
    return false
  }

  // Below the limit by two fetches: what kafkajs already fetched when it pauses arrives after the pause.
  const pauseAboveBytes = config.maxBufferedBytes - 2 * fetchMaxBytes(config)

  /** Pauses every assigned partition when landing falls behind; resumes once it has caught up. */
  const applyBackPressure = (): void => {
    const bytes = bufferedBytes()
    if (!paused && (bytes > pauseAboveBytes || blocked > 0 || slowFlush())) {
      paused = true
      counters.pauses++
      metrics.pauses.inc({ reason: bytes > pauseAboveBytes ? 'buffered_bytes' : blocked > 0 ? 'landing_failing' : 'slow_flush' })
      source.pause(assigned)
      logger.info({ bufferedBytes: bytes }, 'landing behind: consumption paused')
      // Buffers already full are flushed now rather than waiting for their age.
      for (const state of partitions.values()) if (state.buffer.length > 0) scheduleFlush(state)
    } else if (paused && !stopping && blocked === 0 && bytes <= config.maxBufferedBytes / 2 && !slowFlush()) {
      paused = false
      counters.resumes++
      source.resume(assigned)
      logger.info({ bufferedBytes: bytes }, 'landing caught up: consumption resumed')
    }
  }

  const setBlocked = (state: PartitionState, now: boolean): void => {
    if (state.blocked === now) return
    state.blocked = now
    blocked += now ? 1 : -1
    metrics.landingBlocked.set(blocked)
    applyBackPressure()
  }

  /**
   * Lands a batch, retrying with backoff: a full lake volume until space is freed (consumption paused,
   * offsets uncommitted, an error logged per attempt), other retryable failures `landingAttempts` times.
   */
  const landWithRetries = async (state: PartitionState, batch: ChangeRecord[], staged: StagedLines | undefined): Promise<LandOutcome> => {
    const topic = state.topic.topic
    const policy = { attempts: config.landingAttempts, maxDelayMs: config.landingRetryMaxDelayMs, shouldStop: () => fatal !== undefined, giveUpOnDiskFull: () => stopping }
    try {
      return await retryLanding(() => lander.land(state.topic, state.partition, batch, staged), policy, (failure) => {
        counters.landingFailures++
        metrics.landingFailures.inc({ topic, code: failure.code })
        lastLandingError = { code: failure.code, message: failure.message, context: failure.context, at: new Date().toISOString() }
        if (failure.retryInMs === undefined) return // fail() logs the final one
        setBlocked(state, true)
        const facts = { err: failure.error, code: failure.code, path: failure.context.path, topic, partition: state.partition, attempt: failure.attempt, retryInMs: failure.retryInMs }
        if (failure.code === 'LAKE_DISK_FULL') logger.error(facts, 'lake volume full: landing waits for space, consumption paused, offsets uncommitted')
        else logger.warn(facts, 'landing failed; retrying')
      })
    } finally {
      setBlocked(state, false)
    }
  }

  const land = async (state: PartitionState, batch: ChangeRecord[], staged: StagedLines | undefined, batchGeneration: number): Promise<void> => {
    const outcome = await landWithRetries(state, batch, staged)
    counters.flushes++
    const topic = state.topic.topic
    if (outcome.skipped > 0) {
      counters.replaySkipped += outcome.skipped
      metrics.records.inc({ topic, outcome: 'replay_skipped' }, outcome.skipped)
    }
    if (outcome.commit && !outcome.duplicate) {
      counters.rowsLanded += outcome.rows
      counters.tombstones += outcome.tombstones
      counters.deadLetters += outcome.deadLetters
      if (outcome.commit.add.length > 0) {
        counters.files++
        metrics.files.inc({ topic })
      }
      metrics.records.inc({ topic, outcome: 'landed' }, outcome.rows)
      metrics.records.inc({ topic, outcome: 'tombstone' }, outcome.tombstones)
      if (outcome.deadLetters > 0) {
        metrics.records.inc({ topic, outcome: 'dead_letter' }, outcome.deadLetters)
        for (const [code, count] of Object.entries(outcome.deadLetterCodes)) metrics.deadLetters.inc({ topic, code }, count)
      }
      for (const mark of outcome.commit.watermarks ?? []) if (mark.kind === 'kafka-offset') metrics.landed(topic, state.partition, mark.asOf)
      await options.onCommitted?.(outcome)
    }
    // Offsets after durability: the lake commit above is on disk before Kafka hears of it.
    if (batchGeneration !== generation) return // the partition may have moved; the lake watermark covers it
    const next = String(BigInt(batch.at(-1)!.offset) + 1n)
    try {
      await source.commit([{ topic, partition: state.partition, offset: next }])
    } catch (error) {
      // Harmless: the batch is in the lake and its watermark makes a re-delivery a no-op.
      logger.warn({ err: error, topic, partition: state.partition, offset: next }, 'offset commit failed after landing; replay will skip landed records')
    }
  }

  const scheduleFlush = (state: PartitionState): void => {
    if (state.buffer.length === 0) return
    const buffer = state.buffer
    const batch = buffer.records
    const staged = buffer.staged()
    const bytes = buffer.heldBytes
    const batchGeneration = generation
    state.buffer = newBuffer(state.topic)
    state.inFlightBytes += bytes
    state.flushing = state.flushing.then(async () => {
      if (fatal) return
      state.flushStartedAt = Date.now()
      try {
        await land(state, batch, staged, batchGeneration)
      } catch (error) {
        fail(error)
      } finally {
        state.flushStartedAt = undefined
        state.inFlightBytes -= bytes
        noteBuffered()
        applyBackPressure()
      }
    })
  }

  const stateFor = (topic: string, partition: number): PartitionState => {
    const key = tpKey(topic, partition)
    let state = partitions.get(key)
    if (!state) {
      const topicConfig = topics.get(topic)
      if (!topicConfig) throw new ColdpipeError('INTERNAL', `received records of topic ${topic}, which is not configured`, { context: { topic } })
      state = { topic: topicConfig, partition, buffer: newBuffer(topicConfig), firstBufferedAt: 0, seenThrough: undefined, generation: -1, flushing: Promise.resolve(), flushStartedAt: undefined, inFlightBytes: 0, blocked: false }
      partitions.set(key, state)
    }
    return state
  }

  /** Forgets what is buffered (not what is being landed): Kafka re-delivers it from the committed offset. */
  const dropBuffers = (): void => {
    generation++
    for (const state of partitions.values()) {
      if (state.buffer.length > 0) {
        counters.droppedOnRebalance += state.buffer.length
        state.buffer = newBuffer(state.topic)
      }
      state.generation = -1
    }
    noteBuffered()
  }

  const onBatch = async (records: ChangeRecord[]): Promise<void> => {
    if (stopping || fatal) return // not buffered, not committed: the next owner gets them
    const first = records[0]!
    const state = stateFor(first.topic, first.partition)
    if (state.generation !== generation) {
      const myGeneration = generation
      const landed = await lander.landedPosition(first.topic, first.partition)
      if (myGeneration !== generation) return
      state.generation = generation
      state.seenThrough = landed
    }
    // Offsets rise within a batch: when its first one is new, all are, and only the last is converted.
    const allNew = state.seenThrough === undefined || BigInt(first.offset) > state.seenThrough
    for (const record of records) {
      counters.received++
      if (!allNew) {
        const offset = BigInt(record.offset)
        if (state.seenThrough !== undefined && offset <= state.seenThrough) {
          counters.replaySkipped++
          metrics.records.inc({ topic: record.topic, outcome: 'replay_skipped' })
          continue
        }
        state.seenThrough = offset
      }
      if (state.buffer.length === 0) state.firstBufferedAt = Date.now()
      state.buffer.add(record)
      if (state.buffer.length >= config.flushMaxRows || state.buffer.wireBytes >= config.flushMaxBytes) scheduleFlush(state)
    }
    if (allNew) state.seenThrough = BigInt(records.at(-1)!.offset)
    noteBuffered()
    applyBackPressure()
  }

  const tick = (): void => {
    const now = Date.now()
    for (const state of partitions.values()) {
      if (state.buffer.length > 0 && now - state.firstBufferedAt >= config.flushMaxAgeMs) scheduleFlush(state)
    }
    applyBackPressure()
  }
  const timer = setInterval(tick, Math.max(20, Math.min(1_000, Math.floor(config.flushMaxAgeMs / 4))))
  const progress = setInterval(() => {
    const now = stats()
    // runId is already bound to the logger.
    logger.info({ ...now, runId: undefined }, 'change ingest progress')
    options.onProgress?.(now)
  }, config.progressIntervalMs)
  timer.unref()
  progress.unref()

  const stats = (): ChangeIngestStats => ({
    runId,
    received: counters.received,
    rowsLanded: counters.rowsLanded,
    tombstones: counters.tombstones,
    deadLetters: counters.deadLetters,
    replaySkipped: counters.replaySkipped,
    droppedOnRebalance: counters.droppedOnRebalance,
    files: counters.files,
    flushes: counters.flushes,
    pauses: counters.pauses,
    resumes: counters.resumes,
    paused,
    bufferedBytes: bufferedBytes(),
    bufferedBytesHighWater: counters.highWater,
    assigned: [...assigned],
    landingFailures: counters.landingFailures,
    blockedPartitions: blocked,
    lastLandingError,
    consumerRestarts: counters.consumerRestarts,
    failed: fatal ? { code: fatal instanceof ColdpipeError ? fatal.code : 'INTERNAL', message: fatal.message } : undefined,
  })

  try {
    await source.start({
      onBatch,
      onRebalancing: () => {
        logger.info('group rebalancing: dropping unlanded buffers (Kafka re-delivers them)')
        dropBuffers()
      },
      onAssigned: (partitionsNow) => {
        dropBuffers()
        assigned = partitionsNow
        const keep = new Set(partitionsNow.map((p) => tpKey(p.topic, p.partition)))
        for (const [key, state] of partitions) if (!keep.has(key) && state.inFlightBytes === 0) partitions.delete(key)
        if (paused) source.pause(assigned)
        logger.info({ assigned: partitionsNow }, 'partitions assigned')
      },
      // Our own coded errors (thrown while taking a batch, e.g. an unreadable commit log) keep their code.
      onCrash: (error) =>
        fail(
          error instanceof ColdpipeError
            ? error
            : new ColdpipeError('INGEST_BROKER_FAILED', `Kafka consumer stopped for good (${config.brokers.join(',')}, group ${config.groupId}): ${messageOf(error)}`, {
                cause: error,
                context: { brokers: config.brokers, groupId: config.groupId, restarts: counters.consumerRestarts },
              }),
        ),
      onRestart: (error, restartsInARow) => {
        counters.consumerRestarts++
        metrics.consumerRestarts.inc()
        logger.warn({ err: error, restartsInARow, limit: config.consumerRestarts }, 'Kafka consumer crashed on a broker error and restarts (unlanded buffers are re-fetched)')
      },
    })
  } catch (error) {
    clearInterval(timer)
    clearInterval(progress)
    closeDbs()
    throw new ColdpipeError('INGEST_BROKER_FAILED', `cannot start the Kafka consumer for ${config.brokers.join(',')}: ${messageOf(error)}`, {
      cause: error,
      context: { brokers: config.brokers, groupId: config.groupId },
    })
  }
  logger.info({ groupId: config.groupId, topics: config.topics.map((t) => t.topic) }, 'change ingest started')

  let stopped: Promise<void> | undefined
  return {
    runId,
    stats,
    stop() {
      stopped ??= (async () => {
        stopping = true
        clearInterval(timer)
        clearInterval(progress)
        source.pause(assigned)
        for (const state of partitions.values()) scheduleFlush(state)
        await Promise.all([...partitions.values()].map((s) => s.flushing))
        await source.close().catch((error: unknown) => logger.warn({ err: error }, 'error while leaving the consumer group'))
        closeDbs()
        logger.info({ ...stats(), runId: undefined }, 'change ingest stopped')
      })()
      return stopped
    },
  }
}
