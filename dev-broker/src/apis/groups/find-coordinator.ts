import { KafkaErrorCode } from '../../errors/kafka-error-code.ts'
import { ApiKey } from '../../protocol/api-key.ts'
import { Writer } from '../../protocol/writer.ts'
import type { ApiHandler } from '../../server/api-handler.ts'

/*
 * FindCoordinator Request (Version: 0) => key
 *   key => STRING
 * FindCoordinator Request (Version: 1-2) => key key_type
 *   key_type => INT8                                 0 group, 1 transaction
 *
 * FindCoordinator Response (Version: 0) => error_code node_id host port
 *   error_code => INT16  node_id => INT32  host => STRING  port => INT32
 * FindCoordinator Response (Version: 1-2) => throttle_time_ms error_code error_message node_id host port
 *   error_message => NULLABLE_STRING
 *
 * A single node coordinates every group.
 */
export const findCoordinatorHandler: ApiHandler = {
  apiKey: ApiKey.FindCoordinator,
  name: 'FindCoordinator',
  minVersion: 0,
  maxVersion: 2,
  handle({ header, reader, broker }) {
    const version = header.apiVersion
    reader.string()
    if (version >= 1) reader.int8()
    const w = new Writer()
    if (version >= 1) w.int32(0)
    w.int16(KafkaErrorCode.NONE)
    if (version >= 1) w.nullableString(null)
    return w.int32(broker.nodeId).string(broker.advertisedHost).int32(broker.port)
  },
}
