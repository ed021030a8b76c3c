import { typeConnectStruct, type ConnectSchema, type TypedField } from './connect-schema.ts'
import { parseJsonExact } from './exact-json.ts'

export type ChangeOp = 'c' | 'u' | 'd' | 'r' | 't'

/** One Debezium change, unwrapped: the row (after, or before for deletes), its types when the envelope had a schema, and where it came from. */
export interface DecodedChange {
  kind: 'change'
  op: ChangeOp
  /** Column values as the JSON converter wrote them; null for truncate. */
  row: Record<string, unknown> | null
  /** The row's typed fields when the envelope carried a schema. */
  fields?: TypedField[]
  /** Sorts in source order: Postgres LSN zero-padded, MySQL `<binlog file>:<pos zero-padded>`. */
  sourcePos: string | null
  /** Source commit time (source.ts_ms, else the envelope's ts_ms). */
  tsMs: number | null
  txId: string | null
}

/** A null value after a delete (log compaction marker): nothing to land, but counted. */
export interface Tombstone {
  kind: 'tombstone'
}

/** Input that cannot be landed; `reason` says why, for the dead letter. */
export class DecodeError extends Error {
  constructor(reason: string) {
    super(reason)
    this.name = 'DecodeError'
  }
}

const ops = new Set(['c', 'u', 'd', 'r', 't'])

function pad20(value: string | number | bigint): string {
  return String(value).padStart(20, '0')
}

/** A position that sorts as text in the source's order. */
export function sourcePosition(source: Record<string, unknown> | null | undefined): string | null {
  if (!source || typeof source !== 'object') return null
  if (source.lsn !== undefined && source.lsn !== null) return pad20(source.lsn as number)
  if (typeof source.file === 'string' && source.pos !== undefined && source.pos !== null) return `${source.file}:${pad20(source.pos as number)}`
  if (source.scn !== undefined && source.scn !== null) return pad20(source.scn as string)
  return null
}

function transactionId(payload: Record<string, unknown>, source: Record<string, unknown> | undefined): string | null {
  const transaction = payload.transaction as Record<string, unknown> | null | undefined
  if (transaction && transaction.id !== undefined && transaction.id !== null) return String(transaction.id)
  if (!source) return null
  for (const key of ['txId', 'gtid', 'xid']) {
    const value = source[key]
    if (value !== undefined && value !== null) return String(value)
  }
  return null
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

const schemaPrefix = '{"schema":'
const payloadMarker = ',"payload":'
const payloadMarkerBytes = Buffer.from(payloadMarker)
const maxCachedSchemas = 16

/**
 * Decodes Debezium JSON change envelopes, with or without the schema/payload wrapper. Envelope schemas
 * repeat on every message, so the typed fields are kept per distinct schema text and, once a schema's
 * text is known, only the payload part of later messages is parsed.
 */
export class DebeziumDecoder {
  private schemas: { prefix: string; prefixBytes: Buffer; fields: TypedField[] | undefined }[] = []

  decode(text: string | null): DecodedChange | Tombstone {
    if (text === null) return { kind: 'tombstone' }
    const fast = this.decodeKnownSchema(text)
    if (fast) return fast
    let parsed: unknown
    try {
      parsed = parseJsonExact(text)
    } catch (error) {
      throw new DecodeError(`value is not valid JSON: ${(error as Error).message}`)
    }
    if (parsed === null) return { kind: 'tombstone' }
    if (!isObject(parsed)) throw new DecodeError('value is not a JSON object')
    if ('schema' in parsed && 'payload' in parsed) {
      const fields = this.fieldsOf(parsed.schema)
      this.remember(text, parsed.schema, fields)
      if (parsed.payload === null) return { kind: 'tombstone' }
      return this.unwrap(parsed.payload, fields)
    }
    return this.unwrap(parsed, undefined)
  }

  /**
   * For a schema'd envelope whose schema text is already known: where the payload JSON starts and ends
   * in `text`, and the row's typed fields. Undefined otherwise (call decode() to learn the schema).
   */
  matchKnownSchema(text: string): { payloadStart: number; payloadEnd: number; fields: TypedField[] | undefined } | undefined {
    if (!text.startsWith(schemaPrefix) || !text.endsWith('}')) return undefined
    for (const known of this.schemas) {
      const at = known.prefix.length
      if (text.startsWith(payloadMarker, at) && text.startsWith(known.prefix)) {
        return { payloadStart: at + payloadMarker.length, payloadEnd: text.length - 1, fields: known.fields }
      }
    }
    return undefined
  }

  /** matchKnownSchema on the raw bytes: byte offsets of the payload, without decoding the text. */
  matchKnownSchemaBytes(bytes: Uint8Array): { payloadStart: number; payloadEnd: number; fields: TypedField[] | undefined } | undefined {
    if (bytes.length < 2 || bytes[bytes.length - 1] !== 0x7d) return undefined
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
    for (const known of this.schemas) {
      const head = known.prefixBytes
      const end = head.length + payloadMarkerBytes.length
      if (buffer.length <= end) continue
      if (buffer.compare(payloadMarkerBytes, 0, payloadMarkerBytes.length, head.length, end) !== 0) continue
      if (buffer.compare(head, 0, head.length, 0, head.length) !== 0) continue
      return { payloadStart: end, payloadEnd: buffer.length - 1, fields: known.fields }
    }
    return undefined
  }

  private decodeKnownSchema(text: string): DecodedChange | Tombstone | undefined {
    if (!text.startsWith(schemaPrefix) || !text.endsWith('}')) return undefined
    // A prefix comparison is cheaper than slicing and hashing the (large) schema text of every message.
    for (const known of this.schemas) {
      const at = known.prefix.length
      if (!text.startsWith(payloadMarker, at) || !text.startsWith(known.prefix)) continue
      let payload: unknown
      try {
        payload = parseJsonExact(text.slice(at + payloadMarker.length, -1))
      } catch (error) {
        throw new DecodeError(`value is not valid JSON: ${(error as Error).message}`)
      }
      if (payload === null) return { kind: 'tombstone' }
      return this.unwrap(payload, known.fields)
    }
    return undefined
  }

  /** Caches the schema under its exact text, but only when the text really is the compact schema (so the fast path is sound). */
  private remember(text: string, schema: unknown, fields: TypedField[] | undefined): void {
    if (!text.startsWith(schemaPrefix)) return
    const at = text.indexOf(payloadMarker)
    if (at < 0) return
    const prefix = text.slice(0, at)
    if (prefix.slice(schemaPrefix.length) !== JSON.stringify(schema)) return
    if (this.schemas.some((known) => known.prefix === prefix)) return
    // Newest first: a schema change makes the new schema the common case.
    this.schemas.unshift({ prefix, prefixBytes: Buffer.from(prefix, 'utf8'), fields })
    if (this.schemas.length > maxCachedSchemas) this.schemas.pop()
  }

  private fieldsOf(schema: unknown): TypedField[] | undefined {
    if (!isObject(schema)) return undefined
    const envelopeFields = (schema as unknown as ConnectSchema).fields
    if (!Array.isArray(envelopeFields)) return undefined
    const rowSchema = envelopeFields.find((f) => f.field === 'after' && f.type === 'struct') ?? envelopeFields.find((f) => f.field === 'before' && f.type === 'struct')
    return rowSchema ? typeConnectStruct(rowSchema) : undefined
  }

  private unwrap(payload: unknown, fields: TypedField[] | undefined): DecodedChange {
    if (!isObject(payload)) throw new DecodeError('envelope payload is not a JSON object')
    const op = payload.op
    if (typeof op !== 'string') throw new DecodeError('envelope has no payload.op (not a Debezium change event)')
    if (!ops.has(op)) throw new DecodeError(`unknown op ${JSON.stringify(op)} (expected c, u, d, r or t)`)
    const source = isObject(payload.source) ? payload.source : undefined
    let row: Record<string, unknown> | null = null
    if (op !== 't') {
      const image = op === 'd' ? payload.before : payload.after
      if (!isObject(image)) throw new DecodeError(`op ${op} envelope has no ${op === 'd' ? 'before' : 'after'} row`)
      row = image
    }
    const tsMs = typeof source?.ts_ms === 'number' ? source.ts_ms : typeof payload.ts_ms === 'number' ? payload.ts_ms : null
    return {
      kind: 'change',
      op: op as ChangeOp,
      row,
      ...(fields ? { fields } : {}),
      sourcePos: sourcePosition(source),
      tsMs,
      txId: transactionId(payload, source),
    }
  }
}
