import { ApiKey } from '../../protocol/api-key.ts'
import { Writer } from '../../protocol/writer.ts'
import type { ApiHandler } from '../../server/api-handler.ts'

/*
 * SyncGroup Request (Version: 0-2) => group_id generation_id member_id [assignments]
 * SyncGroup Request (Version: 3) => group_id generation_id member_id group_instance_id [assignments]
 *   group_id => STRING  generation_id => INT32  member_id => STRING  group_instance_id => NULLABLE_STRING
 *   assignments => member_id assignment              member_id => STRING  assignment => BYTES
 *
 * SyncGroup Response (Version: 0) => error_code assignment
 * SyncGroup Response (Version: 1-3) => throttle_time_ms error_code assignment
 *
 * Followers wait here until the leader has sent the assignments of the generation.
 */
export const syncGroupHandler: ApiHandler = {
  apiKey: ApiKey.SyncGroup,
  name: 'SyncGroup',
  minVersion: 0,
  maxVersion: 3,
  async handle({ header, reader, broker, signal }) {
    const version = header.apiVersion
    const groupId = reader.string()
    const generationId = reader.int32()
    const memberId = reader.string()
    if (version >= 3) reader.nullableString()
    const assignments = new Map(reader.array((r) => [r.string(), Buffer.from(r.bytes())] as const))

    const result = await broker.groups.sync({ groupId, generationId, memberId, assignments }, signal)
    const w = new Writer()
    if (version >= 1) w.int32(0)
    return w.int16(result.errorCode).bytes(result.assignment)
  },
}
