import { KafkaErrorCode } from '../../errors/kafka-error-code.ts'
import { ApiKey } from '../../protocol/api-key.ts'
import { Writer } from '../../protocol/writer.ts'
import type { ApiHandler } from '../../server/api-handler.ts'

/*
 * ListGroups Request (Version: 0-2) =>
 *
 * ListGroups Response (Version: 0) => error_code [groups]
 * ListGroups Response (Version: 1-2) => throttle_time_ms error_code [groups]
 *   groups => group_id protocol_type                 both STRING
 */
export const listGroupsHandler: ApiHandler = {
  apiKey: ApiKey.ListGroups,
  name: 'ListGroups',
  minVersion: 0,
  maxVersion: 2,
  handle({ header, broker }) {
    const w = new Writer()
    if (header.apiVersion >= 1) w.int32(0)
    w.int16(KafkaErrorCode.NONE)
    return w.array(broker.groups.list(), (gw, g) => gw.string(g.groupId).string(g.protocolType))
  },
}
