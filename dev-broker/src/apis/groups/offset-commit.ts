import { KafkaErrorCode } from '../../errors/kafka-error-code.ts'
import type { OffsetCommitEntry } from '../../groups/offset-store.ts'
import { ApiKey } from '../../protocol/api-key.ts'
import { Writer } from '../../protocol/writer.ts'
import type { ApiHandler } from '../../server/api-handler.ts'

/*
 * OffsetCommit Request (Version: 2-4) => group_id generation_id member_id retention_time_ms [topics]
 * OffsetCommit Request (Version: 5) => group_id generation_id member_id [topics]
 *   group_id => STRING  generation_id => INT32  member_id => STRING  retention_time_ms => INT64
 *   topics => name [partitions]
 *     partitions => partition_index committed_offset committed_metadata
 *       partition_index => INT32  committed_offset => INT64  committed_metadata => NULLABLE_STRING
 *
 * OffsetCommit Response (Version: 2) => [topics]
 * OffsetCommit Response (Version: 3-5) => throttle_time_ms [topics]
 *   topics => name [partitions]
 *     partitions => partition_index error_code
 *
 * A commit from a stale generation or an unknown member is refused as a whole, as in Kafka.
 */
export const offsetCommitHandler: ApiHandler = {
  apiKey: ApiKey.OffsetCommit,
  name: 'OffsetCommit',
  minVersion: 2,
  maxVersion: 5,
  handle({ header, reader, broker }) {
    const version = header.apiVersion
    const groupId = reader.string()
    const generationId = reader.int32()
    const memberId = reader.string()
    if (version <= 4) reader.int64()
    const topics = reader.array((t) => ({
      name: t.string(),
      partitions: t.array((p) => ({ index: p.int32(), offset: p.int64(), metadata: p.nullableString() })),
    }))

    const groupError = groupId === '' ? KafkaErrorCode.INVALID_GROUP_ID : broker.groups.checkCommit(groupId, generationId, memberId)
    const accepted: OffsetCommitEntry[] = []
    const results = topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((p) => {
        let errorCode: KafkaErrorCode = groupError
        if (errorCode === KafkaErrorCode.NONE && !broker.topics.partition(topic.name, p.index)) {
          errorCode = KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION
        }
        if (errorCode === KafkaErrorCode.NONE) {
          accepted.push({ topic: topic.name, partition: p.index, offset: p.offset, metadata: p.metadata })
        }
        return { index: p.index, errorCode }
      }),
    }))
    broker.offsets.commit(groupId, accepted)

    const w = new Writer()
    if (version >= 3) w.int32(0)
    return w.array(results, (tw, topic) => {
      tw.string(topic.name)
      tw.array(topic.partitions, (pw, p) => pw.int32(p.index).int16(p.errorCode))
    })
  },
}
