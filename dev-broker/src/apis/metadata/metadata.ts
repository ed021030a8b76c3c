import { KafkaErrorCode } from '../../errors/kafka-error-code.ts'
import { isValidTopicName, type Topic } from '../../log/topic-store.ts'
import { ApiKey } from '../../protocol/api-key.ts'
import { Writer } from '../../protocol/writer.ts'
import type { ApiHandler } from '../../server/api-handler.ts'
import { topicOrAutoCreate } from '../../server/broker-context.ts'

/*
 * Metadata Request (Version: 0) => [topics]                       empty array = all topics
 *   topics => name => STRING
 * Metadata Request (Version: 1-3) => [topics]                     null array = all topics
 * Metadata Request (Version: 4-5) => [topics] allow_auto_topic_creation
 *   allow_auto_topic_creation => BOOLEAN
 *
 * Metadata Response (Version: 0-5) => throttle_time_ms{v3+} [brokers] cluster_id{v2+} controller_id{v1+} [topics]
 *   brokers => node_id host port rack{v1+}
 *     node_id => INT32  host => STRING  port => INT32  rack => NULLABLE_STRING
 *   cluster_id => NULLABLE_STRING
 *   controller_id => INT32
 *   topics => error_code name is_internal{v1+} [partitions]
 *     partitions => error_code partition_index leader_id [replica_nodes] [isr_nodes] [offline_replicas]{v5+}
 */
interface TopicAnswer {
  name: string
  errorCode: KafkaErrorCode
  topic: Topic | null
}

export const metadataHandler: ApiHandler = {
  apiKey: ApiKey.Metadata,
  name: 'Metadata',
  minVersion: 0,
  maxVersion: 5,
  handle({ header, reader, broker }) {
    const version = header.apiVersion
    const names = reader.nullableArray((r) => r.string())
    const allowAutoCreate = version >= 4 ? reader.boolean() : true
    const wantsAll = names === null || (version === 0 && names.length === 0)
    const answers: TopicAnswer[] = wantsAll
      ? broker.topics.list().map((topic) => ({ name: topic.name, errorCode: KafkaErrorCode.NONE, topic }))
      : names.map((name) => {
          if (!isValidTopicName(name)) return { name, errorCode: KafkaErrorCode.INVALID_TOPIC_EXCEPTION, topic: null }
          const found = topicOrAutoCreate(broker, name, allowAutoCreate)
          return typeof found === 'number'
            ? { name, errorCode: found, topic: null }
            : { name, errorCode: KafkaErrorCode.NONE, topic: found }
        })

    const w = new Writer(512)
    if (version >= 3) w.int32(0)
    w.array([broker.nodeId], (bw, nodeId) => {
      bw.int32(nodeId).string(broker.advertisedHost).int32(broker.port)
      if (version >= 1) bw.nullableString(null)
    })
    if (version >= 2) w.nullableString(broker.clusterId)
    if (version >= 1) w.int32(broker.nodeId)
    w.array(answers, (tw, answer) => {
      tw.int16(answer.errorCode).string(answer.name)
      if (version >= 1) tw.boolean(false)
      tw.array(answer.topic?.partitions ?? [], (pw, partition) => {
        pw.int16(KafkaErrorCode.NONE).int32(partition.partition).int32(broker.nodeId)
        pw.array([broker.nodeId], (rw, id) => rw.int32(id))
        pw.array([broker.nodeId], (rw, id) => rw.int32(id))
        if (version >= 5) pw.int32(0)
      })
    })
    return w
  },
}
