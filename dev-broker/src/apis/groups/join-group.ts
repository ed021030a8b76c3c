import { ApiKey } from '../../protocol/api-key.ts'
import { Writer } from '../../protocol/writer.ts'
import type { ApiHandler } from '../../server/api-handler.ts'

/*
 * JoinGroup Request (Version: 0) => group_id session_timeout_ms member_id protocol_type [protocols]
 * JoinGroup Request (Version: 1-4) => group_id session_timeout_ms rebalance_timeout_ms member_id protocol_type [protocols]
 * JoinGroup Request (Version: 5) => group_id session_timeout_ms rebalance_timeout_ms member_id group_instance_id protocol_type [protocols]
 *   group_id => STRING  session_timeout_ms => INT32  rebalance_timeout_ms => INT32  member_id => STRING
 *   group_instance_id => NULLABLE_STRING  protocol_type => STRING
 *   protocols => name metadata                      name => STRING  metadata => BYTES
 *
 * JoinGroup Response (Version: 0-1) => error_code generation_id protocol_name leader member_id [members]
 * JoinGroup Response (Version: 2-4) => throttle_time_ms error_code generation_id protocol_name leader member_id [members]
 *   members => member_id metadata
 * JoinGroup Response (Version: 5) => same as 2-4, members => member_id group_instance_id metadata
 *
 * The answer is held back until the group's join phase completes (all members rejoined or the
 * rebalance timeout passed). v0 has no rebalance timeout: the session timeout stands in, as in Kafka.
 */
export const joinGroupHandler: ApiHandler = {
  apiKey: ApiKey.JoinGroup,
  name: 'JoinGroup',
  minVersion: 0,
  maxVersion: 5,
  async handle({ header, reader, broker, clientHost, signal }) {
    const version = header.apiVersion
    const groupId = reader.string()
    const sessionTimeoutMs = reader.int32()
    const rebalanceTimeoutMs = version >= 1 ? reader.int32() : sessionTimeoutMs
    const memberId = reader.string()
    const groupInstanceId = version >= 5 ? reader.nullableString() : null
    const protocolType = reader.string()
    const protocols = reader.array((r) => ({ name: r.string(), metadata: Buffer.from(r.bytes()) }))

    const result = await broker.groups.join(
      {
        groupId,
        sessionTimeoutMs,
        rebalanceTimeoutMs,
        memberId,
        groupInstanceId,
        protocolType,
        protocols,
        clientId: header.clientId ?? '',
        clientHost,
      },
      signal,
    )

    const w = new Writer()
    if (version >= 2) w.int32(0)
    w.int16(result.errorCode).int32(result.generationId).string(result.protocolName)
    w.string(result.leaderId).string(result.memberId)
    w.array(result.members, (mw, m) => {
      mw.string(m.memberId)
      if (version >= 5) mw.nullableString(m.groupInstanceId)
      mw.bytes(m.metadata)
    })
    return w
  },
}
