import { KafkaErrorCode } from '../../errors/kafka-error-code.ts'
import { ApiKey } from '../../protocol/api-key.ts'
import { Writer } from '../../protocol/writer.ts'
import type { ApiHandler } from '../../server/api-handler.ts'

/*
 * InitProducerId Request (Version: 0-1) => transactional_id transaction_timeout_ms
 *   transactional_id => NULLABLE_STRING
 *   transaction_timeout_ms => INT32
 *
 * InitProducerId Response (Version: 0-1) => throttle_time_ms error_code producer_id producer_epoch
 *   throttle_time_ms => INT32  error_code => INT16  producer_id => INT64  producer_epoch => INT16
 *
 * Only idempotence (transactional_id null) is offered; transactions are out of scope for a dev broker.
 */
export const initProducerIdHandler: ApiHandler = {
  apiKey: ApiKey.InitProducerId,
  name: 'InitProducerId',
  minVersion: 0,
  maxVersion: 1,
  handle({ reader, broker }) {
    const transactionalId = reader.nullableString()
    reader.int32()
    const w = new Writer().int32(0)
    if (transactionalId !== null) return w.int16(KafkaErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED).int64(-1).int16(-1)
    return w.int16(KafkaErrorCode.NONE).int64(broker.nextProducerId()).int16(0)
  },
}
