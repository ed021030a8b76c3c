import { hasLoneSurrogate, isValueTypeError, type ColumnSpec } from './connect-schema.ts'
import type { DecodedChange } from './debezium-envelope.ts'
import { inferJsonType, inferredWireValue, widenType } from './infer-type.ts'
import type { DecodedEvent } from './integration-event.ts'

/** Where a record sat in Kafka; lands as the `_cp_topic` … `_cp_headers` columns. */
export interface RecordCoordinates {
  topic: string
  partition: number
  offset: string
  /** The Kafka key as text, or null. */
  key: string | null
  /** Kafka record time, ms since the epoch. */
  timestampMs: number
  headers: Record<string, string>
}

export interface TypedBatch {
  /** Table columns in first-seen order, then the metadata columns. */
  columns: ColumnSpec[]
  /** One object per landed row, keyed by column name, holding what read_json casts into the column's type. */
  rows: Record<string, unknown>[]
  /**
   * Records that could not be typed, by their index in the input, with the reason; an undecodable value
   * (bad base64, an impossible date, out of range) also names its `field` and has code INGEST_DECODE_FAILED.
   */
  rejected: { index: number; reason: string; field?: string; code?: 'INGEST_DECODE_FAILED' }[]
  /** The table's column types after this batch (inferred columns only ever widen). */
  tableTypes: Record<string, string>
}

const coordinateColumns: ColumnSpec[] = [
  { name: '_cp_topic', type: 'VARCHAR' },
  { name: '_cp_partition', type: 'INTEGER' },
  { name: '_cp_offset', type: 'BIGINT' },
  { name: '_cp_key', type: 'VARCHAR' },
  { name: '_cp_timestamp', type: 'TIMESTAMPTZ' },
  { name: '_cp_headers', type: 'JSON' },
]

export const changeMetadataColumns: ColumnSpec[] = [
  { name: '_cp_op', type: 'VARCHAR' },
  { name: '_cp_deleted', type: 'BOOLEAN' },
  { name: '_cp_source_pos', type: 'VARCHAR' },
  { name: '_cp_ts_ms', type: 'BIGINT' },
  { name: '_cp_tx_id', type: 'VARCHAR' },
  ...coordinateColumns,
]

export const eventColumns: ColumnSpec[] = [
  { name: 'event_id', type: 'VARCHAR' },
  { name: 'event_type', type: 'VARCHAR' },
  { name: 'occurred_at', type: 'TIMESTAMPTZ' },
  { name: 'payload', type: 'JSON' },
  ...coordinateColumns,
]

function putCoordinates(row: Record<string, unknown>, at: RecordCoordinates): void {
  row._cp_topic = at.topic
  row._cp_partition = at.partition
  row._cp_offset = at.offset
  row._cp_key = at.key
  row._cp_timestamp = new Date(at.timestampMs).toISOString()
  row._cp_headers = at.headers
}

/** Integration events have fixed columns; nothing to infer. */
export function typeEventBatch(events: { event: DecodedEvent; at: RecordCoordinates }[]): TypedBatch {
  const rows = events.map(({ event, at }) => {
    const row: Record<string, unknown> = {
      event_id: event.eventId,
      event_type: event.eventType,
      occurred_at: event.occurredAt,
      payload: event.payload,
    }
    putCoordinates(row, at)
    return row
  })
  return { columns: eventColumns, rows, rejected: [], tableTypes: {} }
}

const reserved = new Set(changeMetadataColumns.map((c) => c.name))

interface ColumnState {
  spec: ColumnSpec
  /** True once a schema typed it in this batch; schema types are not widened by inference. */
  typed: boolean
}

/**
 * Types a batch of Debezium changes for one table. Columns the envelope schema types keep that type;
 * columns without a schema are inferred from their values and widened against `knownTypes` (the table's
 * types from earlier batches). A value that fits neither rejects its record (dead letter), never the batch.
 */
export function typeChangeBatch(changes: { change: DecodedChange; at: RecordCoordinates }[], knownTypes: Record<string, string>): TypedBatch {
  const columns = new Map<string, ColumnState>()
  const rejected: TypedBatch['rejected'] = []
  const wires: (Record<string, unknown> | undefined)[] = []
  const tableTypes: Record<string, string> = { ...knownTypes }

  changes.forEach(({ change }, index) => {
    const wire: Record<string, unknown> = Object.create(null) as Record<string, unknown>
    const row = change.row
    if (row === null) {
      wires.push(wire)
      return
    }
    const planned: [string, ColumnSpec, boolean][] = []
    try {
      if (change.fields) {
        for (const field of change.fields) {
          const name = field.spec.name
          if (reserved.has(name)) continue
          const value = row[name]
          try {
            wire[name] = value === null || value === undefined ? null : field.convert(value)
          } catch (error) {
            if (isValueTypeError(error)) throw new UndecodableValue(name, error.message)
            throw error
          }
          planned.push([name, field.spec, true])
        }
      } else {
        for (const name of Object.keys(row)) {
          if (reserved.has(name)) continue
          const value = row[name]
          // DuckDB refuses a lone UTF-16 surrogate, and would refuse the whole batch over it.
          if (hasLoneSurrogate(value)) throw new UndecodableValue(name, `expected text of whole Unicode characters, got ${JSON.stringify(value)?.slice(0, 80)}`)
          const seen = columns.get(name)
          if (seen?.typed) {
            // A schema-less record in a batch where a schema typed this column: only values that already fit pass.
            const inferred = inferJsonType(value)
            if (inferred !== undefined && widenType(seen.spec.type, inferred) !== seen.spec.type) {
              throw new TypeConflict(`type conflict: column ${name} is ${seen.spec.type} (from the schema), value ${JSON.stringify(value)?.slice(0, 60)} is ${inferred}`)
            }
            wire[name] = value ?? null
            continue
          }
          const inferred = inferJsonType(value)
          const current = seen?.spec.type ?? tableTypes[name]
          const widened = widenType(current, inferred)
          if (inferred !== undefined && widened === undefined) {
            throw new TypeConflict(`type conflict: column ${name} is ${current}, value ${JSON.stringify(value)?.slice(0, 60)} is ${inferred}`)
          }
          wire[name] = value ?? null
          planned.push([name, { name, type: widened ?? 'VARCHAR' }, false])
        }
      }
    } catch (error) {
      if (error instanceof UndecodableValue) {
        rejected.push({ index, reason: `column ${error.field}: ${error.message}`, field: error.field, code: 'INGEST_DECODE_FAILED' })
        wires.push(undefined)
        return
      }
      if (error instanceof TypeConflict || isValueTypeError(error)) {
        rejected.push({ index, reason: (error as Error).message })
        wires.push(undefined)
        return
      }
      throw error
    }
    for (const [name, spec, typed] of planned) {
      const seen = columns.get(name)
      if (!seen) {
        columns.set(name, { spec, typed })
      } else if (seen.spec.type !== spec.type) {
        seen.spec = { ...spec, type: widenType(seen.spec.type, spec.type) ?? 'VARCHAR' }
        seen.typed ||= typed
      }
    }
    wires.push(wire)
  })

  // Inferred columns that only ever held null got the table's type, else VARCHAR, when planned.
  const tableColumns: ColumnSpec[] = []
  for (const [name, state] of columns) {
    const spec = state.spec
    tableColumns.push(spec)
    tableTypes[name] = state.typed ? spec.type : (widenType(tableTypes[name], spec.type) ?? spec.type)
  }
  const inferredTypes = new Map(tableColumns.filter((c) => !columns.get(c.name)!.typed).map((c) => [c.name, c.type]))

  const rows: Record<string, unknown>[] = []
  changes.forEach(({ change, at }, index) => {
    const wire = wires[index]
    if (!wire) return
    for (const [name, type] of inferredTypes) {
      if (name in wire) wire[name] = inferredWireValue(wire[name], type)
    }
    wire._cp_op = change.op
    wire._cp_deleted = change.op === 'd'
    wire._cp_source_pos = change.sourcePos
    wire._cp_ts_ms = change.tsMs
    wire._cp_tx_id = change.txId
    putCoordinates(wire, at)
    rows.push(wire)
  })
  return { columns: [...tableColumns, ...changeMetadataColumns], rows, rejected, tableTypes }
}

class TypeConflict extends Error {}

class UndecodableValue extends Error {
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(reason)
  }
}
