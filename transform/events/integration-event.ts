import { hasLoneSurrogate } from './connect-schema.ts'
import { DecodeError } from './debezium-envelope.ts'
import { maxEpochSecond, minEpochSecond, strictIsoInstant } from './strict-values.ts'

/** A plain integration event, unwrapped into the lake's event columns. */
export interface DecodedEvent {
  kind: 'event'
  eventId: string
  eventType: string
  /** ISO-8601 instant. */
  occurredAt: string
  payload: unknown
}

// Keys compared lower-cased without `_`/`-`, so eventId, event_id, EventId and Id all match.
const idKeys = ['id', 'eventid']
const typeKeys = ['type', 'eventtype', 'eventname']
const timeKeys = ['occurredat', 'occurredon', 'timestamp', 'time', 'creationdate', 'createdat']
const payloadKeys = ['payload', 'data']

function normalize(key: string): string {
  return key.toLowerCase().replace(/[_-]/g, '')
}

function pick(object: Record<string, unknown>, wanted: string[], used: Set<string>): unknown {
  for (const want of wanted) {
    for (const key of Object.keys(object)) {
      if (normalize(key) === want && object[key] !== null && object[key] !== undefined) {
        used.add(key)
        return object[key]
      }
    }
  }
  return undefined
}

function toInstant(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) {
    // Seconds or milliseconds since the epoch: anything below 1e11 cannot be milliseconds of a recent date.
    const ms = Math.abs(value) < 1e11 ? value * 1000 : value
    // Years 0001 to 9999 only: beyond them toISOString() throws or writes a form DuckDB does not read.
    if (ms < Number(minEpochSecond) * 1000 || ms > Number(maxEpochSecond) * 1000) return undefined
    return new Date(ms).toISOString()
  }
  // Keeps sub-millisecond digits the source wrote; a date alone is midnight, no offset is UTC.
  if (typeof value === 'string') return strictIsoInstant(value)
  return undefined
}

/**
 * Decodes an integration event: JSON with an id, a type, an occurred-at time and a payload (common
 * spellings accepted). Without a payload field the remaining fields are the payload. A missing time
 * falls back to `fallbackTime` (the Kafka record time); a missing type to `fallbackType` (a header).
 */
export function decodeIntegrationEvent(text: string | null, fallbackTime: string, fallbackType?: string): DecodedEvent {
  if (text === null) throw new DecodeError('integration event has no value (null)')
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    throw new DecodeError(`value is not valid JSON: ${(error as Error).message}`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new DecodeError('integration event is not a JSON object')
  // A lone UTF-16 surrogate ("\ud800") has no UTF-8 form: DuckDB would refuse the whole batch over it.
  if (hasLoneSurrogate(parsed)) throw new DecodeError('integration event holds text that is not whole Unicode characters (a lone surrogate)')
  const object = parsed as Record<string, unknown>
  const used = new Set<string>()
  const id = pick(object, idKeys, used)
  if (typeof id !== 'string' && typeof id !== 'number') throw new DecodeError('integration event has no id (id, eventId)')
  const type = pick(object, typeKeys, used) ?? fallbackType
  if (typeof type !== 'string' || type === '') throw new DecodeError('integration event has no type (type, eventType)')
  const rawTime = pick(object, timeKeys, used)
  let occurredAt = fallbackTime
  if (rawTime !== undefined) {
    const instant = toInstant(rawTime)
    if (instant === undefined) throw new DecodeError(`integration event time ${JSON.stringify(rawTime)} is not a date-time`)
    occurredAt = instant
  }
  let payload = pick(object, payloadKeys, used)
  if (payload === undefined) payload = Object.fromEntries(Object.entries(object).filter(([key]) => !used.has(key)))
  return { kind: 'event', eventId: String(id), eventType: type, occurredAt, payload }
}
