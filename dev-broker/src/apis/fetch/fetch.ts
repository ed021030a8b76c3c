import { KafkaErrorCode } from '../../errors/kafka-error-code.ts'
import type { PartitionLog } from '../../log/partition-log.ts'
import { ApiKey } from '../../protocol/api-key.ts'
import type { Reader } from '../../protocol/reader.ts'
import { Writer } from '../../protocol/writer.ts'
import type { ApiHandler } from '../../server/api-handler.ts'
import type { BrokerContext } from '../../server/broker-context.ts'
import { waitForAppend } from './wait-for-append.ts'

/*
 * Fetch Request (Version: 4) => replica_id max_wait_ms min_bytes max_bytes isolation_level [topics]
 *   replica_id => INT32  max_wait_ms => INT32  min_bytes => INT32  max_bytes => INT32  isolation_level => INT8
 *   topics => topic [partitions]
 *     topic => STRING
 *     partitions => partition fetch_offset partition_max_bytes
 *       partition => INT32  fetch_offset => INT64  partition_max_bytes => INT32
 * Fetch Request (Version: 5-6) => same, partitions => partition fetch_offset log_start_offset partition_max_bytes
 *       log_start_offset => INT64
 *
 * Fetch Response (Version: 4) => throttle_time_ms [responses]
 *   responses => topic [partitions]
 *     partitions => partition_index error_code high_watermark last_stable_offset [aborted_transactions] records
 *       aborted_transactions => producer_id first_offset   (INT64 each)
 *       records => RECORDS
 * Fetch Response (Version: 5-6) => same, partitions add log_start_offset (INT64) after last_stable_offset
 *
 * v4 is the first Fetch with RecordBatch v2 (librdkafka requires it advertised). Records are the
 * stored batches sent by reference; the first one may start before fetch_offset, which clients skip.
 */
interface FetchPartition {
  partition: number
  fetchOffset: number
  maxBytes: number
}

interface FetchRequest {
  maxWaitMs: number
  minBytes: number
  maxBytes: number
  topics: { topic: string; partitions: FetchPartition[] }[]
}

interface PartitionData {
  partition: number
  errorCode: KafkaErrorCode
  log: PartitionLog | undefined
  batches: Buffer[]
  bytes: number
}

function parseFetch(reader: Reader, version: number): FetchRequest {
  reader.int32()
  const maxWaitMs = reader.int32()
  const minBytes = reader.int32()
  const maxBytes = reader.int32()
  reader.int8()
  const topics = reader.array((t) => ({
    topic: t.string(),
    partitions: t.array((p) => {
      const partition = p.int32()
      const fetchOffset = p.int64()
      if (version >= 5) p.int64()
      return { partition, fetchOffset, maxBytes: p.int32() }
    }),
  }))
  return { maxWaitMs, minBytes, maxBytes, topics }
}

function collect(broker: BrokerContext, request: FetchRequest) {
  let remaining = request.maxBytes
  let total = 0
  let failed = false
  const topics = request.topics.map(({ topic, partitions }) => ({
    topic,
    partitions: partitions.map((p): PartitionData => {
      const log = broker.topics.partition(topic, p.partition)
      const data: PartitionData = { partition: p.partition, errorCode: KafkaErrorCode.NONE, log, batches: [], bytes: 0 }
      if (!log) data.errorCode = KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION
      else if (!log.validOffset(p.fetchOffset)) data.errorCode = KafkaErrorCode.OFFSET_OUT_OF_RANGE
      if (data.errorCode !== KafkaErrorCode.NONE || !log) {
        failed = true
        return data
      }
      const read = log.read(p.fetchOffset, Math.min(p.maxBytes, remaining), total === 0)
      remaining -= read.bytes
      total += read.bytes
      return { ...data, batches: read.batches, bytes: read.bytes }
    }),
  }))
  return { topics, total, failed }
}

function encodeFetch(version: number, topics: ReturnType<typeof collect>['topics']): Writer {
  const w = new Writer(1024)
  w.int32(0)
  w.array(topics, (tw, { topic, partitions }) => {
    tw.string(topic)
    tw.array(partitions, (pw, p) => {
      const highWatermark = p.log?.highWatermark ?? -1
      pw.int32(p.partition).int16(p.errorCode).int64(highWatermark).int64(highWatermark)
      if (version >= 5) pw.int64(p.log?.logStartOffset ?? -1)
      pw.int32(0)
      pw.int32(p.bytes)
      for (const batch of p.batches) pw.raw(batch)
    })
  })
  return w
}

export const fetchHandler: ApiHandler = {
  apiKey: ApiKey.Fetch,
  name: 'Fetch',
  minVersion: 4,
  maxVersion: 6,
  async handle({ header, reader, broker, signal }) {
    const request = parseFetch(reader, header.apiVersion)
    const deadline = Date.now() + Math.max(0, request.maxWaitMs)
    // Long poll: park until enough bytes arrived, max_wait_ms passed, or the client went away.
    for (;;) {
      const result = collect(broker, request)
      const waitMs = deadline - Date.now()
      if (result.total >= request.minBytes || result.failed || waitMs <= 0 || signal.aborted) {
        return encodeFetch(header.apiVersion, result.topics)
      }
      const logs = result.topics.flatMap((t) => t.partitions.map((p) => p.log)).filter((l) => l !== undefined)
      await waitForAppend(logs, waitMs, signal)
    }
  },
}
