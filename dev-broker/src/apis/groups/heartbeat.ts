import { ApiKey } from '../../protocol/api-key.ts'
import { Writer } from '../../protocol/writer.ts'
import type { ApiHandler } from '../../server/api-handler.ts'

/*
 * Heartbeat Request (Version: 0-2) => group_id generation_id member_id
 * Heartbeat Request (Version: 3) => group_id generation_id member_id group_instance_id
 *   group_id => STRING  generation_id => INT32  member_id => STRING  group_instance_id => NULLABLE_STRING
 *
 * Heartbeat Response (Version: 0) => error_code
 * Heartbeat Response (Version: 1-3) => throttle_time_ms error_code
 */
export const heartbeatHandler: ApiHandler = {
  apiKey: ApiKey.Heartbeat,
  name: 'Heartbeat',
  minVersion: 0,
  maxVersion: 3,
  handle({ header, reader, broker }) {
    const groupId = reader.string()
    const generationId = reader.int32()
    const memberId = reader.string()
    if (header.apiVersion >= 3) reader.nullableString()
    const w = new Writer()
    if (header.apiVersion >= 1) w.int32(0)
    return w.int16(broker.groups.heartbeat(groupId, generationId, memberId))
  },
}
