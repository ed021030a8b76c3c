import { KafkaErrorCode } from '../../errors/kafka-error-code.ts'
import { ApiKey } from '../../protocol/api-key.ts'
import { Writer } from '../../protocol/writer.ts'
import type { ApiHandler } from '../../server/api-handler.ts'

/*
 * CreateTopics Request (Version: 0) => [topics] timeout_ms
 * CreateTopics Request (Version: 1-3) => [topics] timeout_ms validate_only
 *   topics => name num_partitions replication_factor [assignments] [configs]
 *     name => STRING  num_partitions => INT32  replication_factor => INT16
 *     assignments => partition_index [broker_ids]    partition_index => INT32  broker_ids => INT32
 *     configs => name value                          name => STRING  value => NULLABLE_STRING
 *   timeout_ms => INT32
 *   validate_only => BOOLEAN
 *
 * CreateTopics Response (Version: 0) => [topics]
 *   topics => name error_code
 * CreateTopics Response (Version: 1) => [topics]
 *   topics => name error_code error_message          error_message => NULLABLE_STRING
 * CreateTopics Response (Version: 2-3) => throttle_time_ms [topics]
 *
 * Topic configs are accepted and ignored: retention is a broker-wide setting here.
 */
interface CreateTopic {
  name: string
  numPartitions: number
  replicationFactor: number
  assignmentCount: number
}

const messages: Partial<Record<KafkaErrorCode, string>> = {
  [KafkaErrorCode.TOPIC_ALREADY_EXISTS]: 'Topic already exists.',
  [KafkaErrorCode.INVALID_PARTITIONS]: 'Number of partitions must be between 1 and 1000.',
  [KafkaErrorCode.INVALID_TOPIC_EXCEPTION]: 'Topic names use [a-zA-Z0-9._-], at most 249 characters.',
  [KafkaErrorCode.INVALID_REPLICATION_FACTOR]: 'This single-node dev broker only offers replication factor 1.',
}

export const createTopicsHandler: ApiHandler = {
  apiKey: ApiKey.CreateTopics,
  name: 'CreateTopics',
  minVersion: 0,
  maxVersion: 3,
  handle({ header, reader, broker }) {
    const version = header.apiVersion
    const topics = reader.array<CreateTopic>((r) => {
      const topic = { name: r.string(), numPartitions: r.int32(), replicationFactor: r.int16() }
      const assignmentCount = r.array((a) => [a.int32(), a.array((b) => b.int32())]).length
      r.array((c) => [c.string(), c.nullableString()])
      return { ...topic, assignmentCount }
    })
    reader.int32()
    const validateOnly = version >= 1 ? reader.boolean() : false

    const results = topics.map((topic) => {
      const partitions =
        topic.assignmentCount > 0 ? topic.assignmentCount : topic.numPartitions === -1 ? broker.defaultPartitions : topic.numPartitions
      let errorCode: KafkaErrorCode
      if (topic.replicationFactor !== -1 && topic.replicationFactor !== 1 && topic.assignmentCount === 0) {
        errorCode = KafkaErrorCode.INVALID_REPLICATION_FACTOR
      } else {
        errorCode = validateOnly ? broker.topics.checkCreate(topic.name, partitions) : broker.topics.create(topic.name, partitions)
      }
      return { name: topic.name, errorCode }
    })

    const w = new Writer()
    if (version >= 2) w.int32(0)
    w.array(results, (tw, result) => {
      tw.string(result.name).int16(result.errorCode)
      if (version >= 1) tw.nullableString(messages[result.errorCode] ?? null)
    })
    return w
  },
}
