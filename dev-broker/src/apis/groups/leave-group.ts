import { KafkaErrorCode } from '../../errors/kafka-error-code.ts'
import { ApiKey } from '../../protocol/api-key.ts'
import { Writer } from '../../protocol/writer.ts'
import type { ApiHandler } from '../../server/api-handler.ts'

/*
 * LeaveGroup Request (Version: 0-2) => group_id member_id
 * LeaveGroup Request (Version: 3) => group_id [members]
 *   members => member_id group_instance_id           member_id => STRING  group_instance_id => NULLABLE_STRING
 *
 * LeaveGroup Response (Version: 0) => error_code
 * LeaveGroup Response (Version: 1-2) => throttle_time_ms error_code
 * LeaveGroup Response (Version: 3) => throttle_time_ms error_code [members]
 *   members => member_id group_instance_id error_code
 */
export const leaveGroupHandler: ApiHandler = {
  apiKey: ApiKey.LeaveGroup,
  name: 'LeaveGroup',
  minVersion: 0,
  maxVersion: 3,
  handle({ header, reader, broker }) {
    const version = header.apiVersion
    const groupId = reader.string()
    const w = new Writer()
    if (version >= 1) w.int32(0)
    if (version < 3) return w.int16(broker.groups.leave(groupId, reader.string()))

    const members = reader.array((r) => ({ memberId: r.string(), groupInstanceId: r.nullableString() }))
    const results = members.map((m) => ({ ...m, errorCode: broker.groups.leave(groupId, m.memberId) }))
    w.int16(KafkaErrorCode.NONE)
    return w.array(results, (mw, m) => mw.string(m.memberId).nullableString(m.groupInstanceId).int16(m.errorCode))
  },
}
