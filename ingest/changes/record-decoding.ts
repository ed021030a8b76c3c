import { encodePayload, type DeadLetter } from '../../lake/index.ts'
import {
  DecodeError,
  decodeIntegrationEvent,
  type DebeziumDecoder,
  type DecodedChange,
  type DecodedEvent,
  type RecordCoordinates,
} from '../../transform/index.ts'
import type { ChangeRecord } from './change-record.ts'
import type { ChangeTopicConfig } from './changes-config.ts'

/** Records of one batch decoded in JavaScript: changes or events with their Kafka coordinates, and dead letters. */
export interface Decoded {
  changes: { change: DecodedChange; at: RecordCoordinates }[]
  events: { event: DecodedEvent; at: RecordCoordinates }[]
  /** Index into the changes/events list → index of the record it came from. */
  recordIndex: number[]
  tombstones: number
  letters: DeadLetter[]
  newestSourceMs: number
}

/** Decodes each record of a batch; one that cannot be decoded becomes a dead letter, never a failed batch. */
export function decodeRecords(decoder: DebeziumDecoder, config: ChangeTopicConfig, records: ChangeRecord[]): Decoded {
  const out: Decoded = { changes: [], events: [], recordIndex: [], tombstones: 0, letters: [], newestSourceMs: 0 }
  records.forEach((record, index) => {
    const at: RecordCoordinates = {
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      key: record.key === null ? null : record.key.toString('utf8'),
      timestampMs: Number(record.timestamp),
      headers: record.headers,
    }
    const text = record.value === null ? null : record.value.toString('utf8')
    try {
      if (config.format === 'debezium') {
        const change = decoder.decode(text)
        if (change.kind === 'tombstone') {
          out.tombstones++
          return
        }
        out.changes.push({ change, at })
        if (change.tsMs !== null && change.tsMs > out.newestSourceMs) out.newestSourceMs = change.tsMs
      } else {
        const fallbackType = record.headers.eventType ?? record.headers.type
        const event = decodeIntegrationEvent(text, new Date(at.timestampMs).toISOString(), fallbackType)
        out.events.push({ event, at })
        const ms = Date.parse(event.occurredAt)
        if (ms > out.newestSourceMs) out.newestSourceMs = ms
      }
      out.recordIndex.push(index)
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error
      out.letters.push(deadLetterOf(record, error.message, 'INGEST_DECODE_FAILED'))
    }
  })
  return out
}

export function deadLetterOf(record: ChangeRecord, reason: string, code: string, field?: string): DeadLetter {
  return {
    reason,
    code,
    ...(field === undefined ? {} : { field }),
    source: { topic: record.topic, partition: record.partition, offset: record.offset, key: record.key === null ? null : record.key.toString('utf8') },
    ...encodePayload(record.value),
    // The record's own time, not the wall clock, so a replay rewrites the same dead-letter file.
    at: new Date(Number(record.timestamp)).toISOString(),
  }
}
