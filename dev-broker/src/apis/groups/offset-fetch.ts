import { KafkaErrorCode } from '../../errors/kafka-error-code.ts'
import type { OffsetCommitEntry } from '../../groups/offset-store.ts'
import { ApiKey } from '../../protocol/api-key.ts'
import { Writer } from '../../protocol/writer.ts'
import type { ApiHandler } from '../../server/api-handler.ts'

/*
 * OffsetFetch Request (Version: 1) => group_id [topics]
 * OffsetFetch Request (Version: 2-4) => group_id [topics]         null topics = every committed partition
 *   group_id => STRING
 *   topics => name [partition_indexes]                name => STRING  partition_indexes => INT32
 *
 * OffsetFetch Response (Version: 1) => [topics]
 * OffsetFetch Response (Version: 2) => [topics] error_code
 * OffsetFetch Response (Version: 3-4) => throttle_time_ms [topics] error_code
 *   topics => name [partitions]
 *     partitions => partition_index committed_offset metadata error_code
 *       partition_index => INT32  committed_offset => INT64  metadata => NULLABLE_STRING  error_code => INT16
 *
 * A partition without a commit answers offset -1, which clients read as "use auto.offset.reset".
 */
function committedTopics(entries: readonly OffsetCommitEntry[]): { name: string; partitions: number[] }[] {
  const byTopic = new Map<string, number[]>()
  for (const e of entries) byTopic.set(e.topic, [...(byTopic.get(e.topic) ?? []), e.partition])
  return [...byTopic].map(([name, partitions]) => ({ name, partitions }))
}

export const offsetFetchHandler: ApiHandler = {
  apiKey: ApiKey.OffsetFetch,
  name: 'OffsetFetch',
  minVersion: 1,
  maxVersion: 4,
  handle({ header, reader, broker }) {
    const version = header.apiVersion
    const groupId = reader.string()
    const requested = reader.nullableArray((t) => ({ name: t.string(), partitions: t.array((p) => p.int32()) }))

    const topics = requested ?? committedTopics(broker.offsets.entriesOf(groupId))

    const w = new Writer()
    if (version >= 3) w.int32(0)
    w.array(topics, (tw, topic) => {
      tw.string(topic.name)
      tw.array(topic.partitions, (pw, index) => {
        const committed = broker.offsets.get(groupId, topic.name, index)
        pw.int32(index).int64(committed?.offset ?? -1).nullableString(committed?.metadata ?? '').int16(KafkaErrorCode.NONE)
      })
    })
    if (version >= 2) w.int16(KafkaErrorCode.NONE)
    return w
  },
}
