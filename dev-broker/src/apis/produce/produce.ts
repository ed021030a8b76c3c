import { KafkaErrorCode } from '../../errors/kafka-error-code.ts'
import { ApiKey } from '../../protocol/api-key.ts'
import { Writer } from '../../protocol/writer.ts'
import { validateRecordSet } from '../../records/record-batch.ts'
import type { ApiHandler } from '../../server/api-handler.ts'
import { topicOrAutoCreate, type BrokerContext } from '../../server/broker-context.ts'

/*
 * Produce Request (Version: 3-5) => transactional_id acks timeout_ms [topic_data]
 *   transactional_id => NULLABLE_STRING
 *   acks => INT16
 *   timeout_ms => INT32
 *   topic_data => name [partition_data]
 *     name => STRING
 *     partition_data => index records
 *       index => INT32
 *       records => RECORDS                       (NULLABLE_BYTES holding RecordBatch v2)
 *
 * Produce Response (Version: 3-4) => [responses] throttle_time_ms
 *   responses => name [partition_responses]
 *     partition_responses => index error_code base_offset log_append_time_ms
 *       index => INT32  error_code => INT16  base_offset => INT64  log_append_time_ms => INT64
 * Produce Response (Version: 5) => same, partition_responses add log_start_offset (INT64)
 *
 * Version 3 is the first with RecordBatch v2; librdkafka needs it advertised to use magic 2 at all.
 */
interface PartitionAnswer {
  index: number
  errorCode: KafkaErrorCode
  baseOffset: number
  logStartOffset: number
}

function appendPartition(broker: BrokerContext, topicName: string, index: number, records: Buffer | null): PartitionAnswer {
  const answer = { index, errorCode: KafkaErrorCode.NONE as KafkaErrorCode, baseOffset: -1, logStartOffset: -1 }
  const topic = topicOrAutoCreate(broker, topicName, true)
  const partition = typeof topic === 'number' ? undefined : topic.partitions[index]
  if (!partition) return { ...answer, errorCode: KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION }
  const validation = validateRecordSet(records)
  if (!validation.ok) {
    broker.logger.warn({ topic: topicName, partition: index, reason: validation.reason }, 'produce rejected')
    return { ...answer, errorCode: validation.errorCode, logStartOffset: partition.logStartOffset }
  }
  let baseOffset = -1
  for (const batch of validation.batches) {
    const result = partition.append(batch)
    if (result.errorCode !== KafkaErrorCode.NONE) {
      return { ...answer, errorCode: result.errorCode, logStartOffset: partition.logStartOffset }
    }
    if (baseOffset < 0) baseOffset = result.baseOffset
  }
  return { ...answer, baseOffset, logStartOffset: partition.logStartOffset }
}

export const produceHandler: ApiHandler = {
  apiKey: ApiKey.Produce,
  name: 'Produce',
  minVersion: 3,
  maxVersion: 5,
  handle({ header, reader, broker }) {
    const version = header.apiVersion
    const transactionalId = reader.nullableString()
    const acks = reader.int16()
    reader.int32()
    const topics = reader.array((r) => ({
      name: r.string(),
      partitions: r.array((p) => ({ index: p.int32(), records: p.nullableBytes() })),
    }))

    const rejectAll = transactionalId !== null ? KafkaErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED
      : acks !== 0 && acks !== 1 && acks !== -1 ? KafkaErrorCode.INVALID_REQUIRED_ACKS
      : KafkaErrorCode.NONE
    const answers = topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((p) =>
        rejectAll !== KafkaErrorCode.NONE
          ? { index: p.index, errorCode: rejectAll, baseOffset: -1, logStartOffset: -1 }
          : appendPartition(broker, topic.name, p.index, p.records),
      ),
    }))
    // acks=0: the client does not read a response, and sending one would desynchronise it.
    if (acks === 0) return null

    const w = new Writer()
    w.array(answers, (tw, topic) => {
      tw.string(topic.name)
      tw.array(topic.partitions, (pw, p) => {
        pw.int32(p.index).int16(p.errorCode).int64(p.baseOffset).int64(-1)
        if (version >= 5) pw.int64(p.logStartOffset)
      })
    })
    w.int32(0)
    return w
  },
}
