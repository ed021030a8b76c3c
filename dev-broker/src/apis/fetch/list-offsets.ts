import { KafkaErrorCode } from '../../errors/kafka-error-code.ts'
import { ApiKey } from '../../protocol/api-key.ts'
import { Writer } from '../../protocol/writer.ts'
import type { ApiHandler } from '../../server/api-handler.ts'

/*
 * ListOffsets Request (Version: 1) => replica_id [topics]
 * ListOffsets Request (Version: 2) => replica_id isolation_level [topics]
 *   replica_id => INT32  isolation_level => INT8
 *   topics => name [partitions]
 *     partitions => partition_index timestamp        partition_index => INT32  timestamp => INT64
 *
 * ListOffsets Response (Version: 1) => [topics]
 * ListOffsets Response (Version: 2) => throttle_time_ms [topics]
 *   topics => name [partitions]
 *     partitions => partition_index error_code timestamp offset
 *
 * timestamp -1 asks for the latest offset (high watermark), -2 for the earliest (log start offset).
 */
const LATEST = -1
const EARLIEST = -2

export const listOffsetsHandler: ApiHandler = {
  apiKey: ApiKey.ListOffsets,
  name: 'ListOffsets',
  minVersion: 1,
  maxVersion: 2,
  handle({ header, reader, broker }) {
    const version = header.apiVersion
    reader.int32()
    if (version >= 2) reader.int8()
    const topics = reader.array((t) => ({
      name: t.string(),
      partitions: t.array((p) => ({ index: p.int32(), timestamp: p.int64() })),
    }))

    const w = new Writer()
    if (version >= 2) w.int32(0)
    w.array(topics, (tw, topic) => {
      tw.string(topic.name)
      tw.array(topic.partitions, (pw, p) => {
        const log = broker.topics.partition(topic.name, p.index)
        if (!log) {
          pw.int32(p.index).int16(KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION).int64(-1).int64(-1)
          return
        }
        const offset =
          p.timestamp === LATEST ? log.highWatermark : p.timestamp === EARLIEST ? log.logStartOffset : log.offsetForTimestamp(p.timestamp)
        const timestamp = p.timestamp === LATEST || p.timestamp === EARLIEST || offset < 0 ? -1 : p.timestamp
        pw.int32(p.index).int16(KafkaErrorCode.NONE).int64(timestamp).int64(offset)
      })
    })
    return w
  },
}
