export {
  decodeDecimalBytes,
  epochDaysToDate,
  epochToTimestamp,
  formatUnscaled,
  typeConnectField,
  typeConnectStruct,
  type ColumnSpec,
  type ConnectSchema,
  type TypedField,
} from './connect-schema.ts'
export { DebeziumDecoder, DecodeError, sourcePosition, type ChangeOp, type DecodedChange, type Tombstone } from './debezium-envelope.ts'
export { decodeIntegrationEvent, type DecodedEvent } from './integration-event.ts'
export { inferJsonType, inferredWireValue, widenType } from './infer-type.ts'
export {
  changeMetadataColumns,
  eventColumns,
  typeChangeBatch,
  typeEventBatch,
  type RecordCoordinates,
  type TypedBatch,
} from './batch-typing.ts'
export { nativeChangePlan, type NativeChangePlan } from './native-typing.ts'
