import { KafkaErrorCode } from '../../errors/kafka-error-code.ts'
import { ApiKey } from '../../protocol/api-key.ts'
import { Writer } from '../../protocol/writer.ts'
import type { ApiHandler } from '../../server/api-handler.ts'

/*
 * DescribeGroups Request (Version: 0-2) => [groups]
 *   groups => STRING
 *
 * DescribeGroups Response (Version: 0) => [groups]
 * DescribeGroups Response (Version: 1-2) => throttle_time_ms [groups]
 *   groups => error_code group_id group_state protocol_type protocol_data [members]
 *     error_code => INT16  group_id => STRING  group_state => STRING  protocol_type => STRING
 *     protocol_data => STRING                        the chosen protocol's name
 *     members => member_id client_id client_host member_metadata member_assignment
 *       member_id => STRING  client_id => STRING  client_host => STRING
 *       member_metadata => BYTES  member_assignment => BYTES
 */
export const describeGroupsHandler: ApiHandler = {
  apiKey: ApiKey.DescribeGroups,
  name: 'DescribeGroups',
  minVersion: 0,
  maxVersion: 2,
  handle({ header, reader, broker }) {
    const groupIds = reader.array((r) => r.string())
    const w = new Writer()
    if (header.apiVersion >= 1) w.int32(0)
    return w.array(groupIds, (gw, groupId) => {
      const group = broker.groups.describe(groupId)
      gw.int16(KafkaErrorCode.NONE).string(group.groupId).string(group.state)
      gw.string(group.protocolType).string(group.protocolName)
      gw.array(group.members, (mw, m) => {
        mw.string(m.memberId).string(m.clientId).string(m.clientHost).bytes(m.metadata).bytes(m.assignment)
      })
    })
  },
}
