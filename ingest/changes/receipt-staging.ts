import type { DebeziumDecoder, TypedField } from '../../transform/index.ts'
import { recordBytes, type ChangeRecord } from './change-record.ts'
import { NdjsonChunks } from './ndjson-file.ts'

/**
 * A partition's buffer, staged as records arrive. kafkajs hands out keys and values as slices of the
 * fetch response, so one buffered record kept its whole fetch (up to 16 MiB) alive, and a Debezium
 * envelope is mostly its schema (2.7 KB, of which 450 bytes payload, in the bench). Here an envelope of
 * an already-known schema is cut down on arrival to its payload, copied straight into the NDJSON lines
 * that DuckDB reads at landing; everything else is copied out of the fetch. The fetch response can then be
 * freed at once, and a batch that stays native needs no more JavaScript work when it lands.
 */

/** Most records carry no headers: their JSON is a constant. */
function headersJson(headers: Record<string, string>): string {
  for (const _ in headers) return JSON.stringify(headers)
  return '{}'
}

/** The line's fields before the payload: read_json columns o, ts, k, h, p of native-typing.ts, in that order (NdjsonChunks.appendLine writes the same bytes). */
function lineHead(offset: string, timestamp: string, keyJson: string, headersJson: string): string {
  return `{"o":${offset},"ts":${timestamp},"k":${keyJson},"h":${headersJson},"p":`
}

/** The text before a record's payload in its NDJSON line. */
export function stagedHead(record: Pick<ChangeRecord, 'offset' | 'timestamp' | 'key' | 'headers'>): string {
  return lineHead(record.offset, record.timestamp, record.key === null ? 'null' : JSON.stringify(record.key.toString('utf8')), headersJson(record.headers))
}

/** headersJson's UTF-8 bytes, one char per byte (latin1), as NdjsonChunks.appendLine writes them. */
function headersBytes(headers: Record<string, string>): string {
  const json = headersJson(headers)
  return json === '{}' ? json : Buffer.from(json).toString('latin1')
}

const closing = Buffer.from('}')

/**
 * Where an envelope of a schema the decoder knows has its payload; when it knows none and `mayLearn()` says so,
 * the envelope is decoded once so the decoder learns its schema (as the landing would). Undefined when the schema
 * is unknown or the envelope does not decode.
 */
function matchSchema(decoder: DebeziumDecoder, value: Buffer, mayLearn: () => boolean): ReturnType<DebeziumDecoder['matchKnownSchemaBytes']> {
  const match = decoder.matchKnownSchemaBytes(value)
  if (match || !mayLearn()) return match
  try {
    decoder.decode(value.toString('utf8'))
  } catch {
    return undefined
  }
  return decoder.matchKnownSchemaBytes(value)
}

/** What the packed records of one batch share. */
interface PackedBatch {
  topic: string
  partition: number
  /** The envelope up to and including `,"payload":`, shared by every record of the schema. */
  envelopeHead: Buffer
  fields: TypedField[]
  lines: NdjsonChunks
}

/**
 * A record whose envelope matched a known schema on arrival: only the payload is kept (in the staged lines),
 * and the key as a one-byte string (fewer objects to keep alive than a Buffer per key); `value` rebuilds the
 * exact envelope bytes (schema head + payload + `}`) for the JavaScript way.
 */
export class PackedChangeRecord implements ChangeRecord {
  constructor(
    private readonly batch: PackedBatch,
    readonly offset: string,
    readonly headers: Record<string, string>,
    readonly timestamp: string,
    private readonly chunk: number,
    /** Where the key's JSON string lies in the chunk (quotes included); -1 for a null key. */
    private readonly keyStart: number,
    private readonly keyEnd: number,
    private readonly start: number,
    private readonly length: number,
  ) {}

  get topic(): string {
    return this.batch.topic
  }

  get partition(): number {
    return this.batch.partition
  }

  get fields(): TypedField[] {
    return this.batch.fields
  }

  /** Read back from the key's JSON string in the staged line: exact bytes (one char per byte), no copy kept per record. */
  get key(): Buffer | null {
    return this.keyStart < 0 ? null : Buffer.from(JSON.parse(this.batch.lines.latin1(this.chunk, this.keyStart, this.keyEnd)) as string, 'latin1')
  }

  get payload(): Buffer {
    return this.batch.lines.body(this.chunk, this.start, this.length)
  }

  get value(): Buffer {
    return Buffer.concat([this.batch.envelopeHead, this.payload, closing])
  }
}

/** Lines staged for DuckDB-side typing: every non-tombstone record of the batch, in order, one schema. */
export interface StagedLines {
  buffers: Buffer[]
  fields: TypedField[]
  rows: number
  tombstones: number
}

/** Per-record bookkeeping a buffered record costs beyond its bytes (object, strings, array slot). */
const recordOverhead = 128

export class ReceiptStaging {
  readonly records: ChangeRecord[] = []
  /** The records as Kafka delivered them (what flushMaxBytes sizes batches by). */
  wireBytes = 0
  /** What this buffer keeps in memory (what maxBufferedBytes bounds). */
  heldBytes = 0
  /** Set by the first packed record. */
  private batch: PackedBatch | undefined
  /** Undefined while every record so far was packed (or a tombstone); false once one was not. */
  private native: boolean | undefined
  private rows = 0
  private tombstones = 0
  private triedLearning = false

  /**
   * `decoder`: the topic's Debezium decoder when its batches may be typed in DuckDB (schema'd envelopes);
   * undefined for topics that always go the JavaScript way.
   */
  constructor(private readonly decoder: DebeziumDecoder | undefined) {
    if (!decoder) this.native = false
  }

  get length(): number {
    return this.records.length
  }

  add(record: ChangeRecord): void {
    this.wireBytes += recordBytes(record)
    const packed = this.native === false ? undefined : this.pack(record)
    if (packed) {
      this.records.push(packed)
      return
    }
    if (record.value === null && this.native !== false) {
      this.tombstones++
    } else {
      this.native = false
    }
    // Copies, so that the fetch response the record was cut from is not kept alive by it.
    const copy: ChangeRecord = { ...record, key: record.key && Buffer.from(record.key), value: record.value && Buffer.from(record.value) }
    this.records.push(copy)
    this.heldBytes += recordBytes(copy)
  }

  /** The staged lines when the whole batch qualifies for DuckDB-side typing as staged. */
  staged(): StagedLines | undefined {
    const batch = this.batch
    if (this.native === false || !batch || this.rows === 0) return undefined
    return { buffers: batch.lines.buffers(), fields: batch.fields, rows: this.rows, tombstones: this.tombstones }
  }

  private pack(record: ChangeRecord): PackedChangeRecord | undefined {
    const value = record.value
    if (value === null || !this.decoder) return undefined
    const batch = this.batch
    // Once the batch has its schema, one comparison of the envelope's head (schema and `,"payload":`) decides.
    if (batch) {
      const head = batch.envelopeHead
      if (value.length > head.length && value[value.length - 1] === 0x7d && value.compare(head, 0, head.length, 0, head.length) === 0) {
        return this.packed(batch, record, value, head.length, value.length - 1)
      }
    }
    const match = matchSchema(this.decoder, value, () => this.learnOnce())
    if (!match?.fields || (batch !== undefined && match.fields !== batch.fields)) return undefined
    if (!this.batch) {
      const lines = new NdjsonChunks()
      this.heldBytes += lines.allocated
      this.batch = { topic: record.topic, partition: record.partition, envelopeHead: Buffer.from(value.subarray(0, match.payloadStart)), fields: match.fields, lines }
    }
    return this.packed(this.batch, record, value, match.payloadStart, match.payloadEnd)
  }

  /** True the first time only: a batch learns from one record, so a topic whose schemas cannot be cached is not parsed twice for every record. */
  private learnOnce(): boolean {
    if (this.triedLearning) return false
    this.triedLearning = true
    return true
  }

  private packed(batch: PackedBatch, record: ChangeRecord, value: Buffer, payloadStart: number, payloadEnd: number): PackedChangeRecord {
    const lines = batch.lines
    const before = lines.allocated
    const headers = headersBytes(record.headers)
    lines.appendLine(record.offset, record.timestamp, record.key, headers, value, payloadStart, payloadEnd)
    this.heldBytes += lines.allocated - before + recordOverhead
    this.rows++
    return new PackedChangeRecord(batch, record.offset, record.headers, record.timestamp, lines.lastChunk, lines.lastKeyStart, lines.lastKeyEnd, lines.lastStart, payloadEnd - payloadStart)
  }
}

/**
 * The batch's NDJSON lines when every envelope carries one already-seen schema (records packed on arrival
 * carry their payload; others are matched here); undefined when the batch does not qualify.
 */
export function stageRecords(decoder: DebeziumDecoder, records: ChangeRecord[]): StagedLines | undefined {
  let fields: TypedField[] | undefined
  let tombstones = 0
  const lines = new NdjsonChunks()
  let rows = 0
  for (const record of records) {
    if (record instanceof PackedChangeRecord) {
      if (fields !== undefined && record.fields !== fields) return undefined
      fields = record.fields
      const payload = record.payload
      lines.append(stagedHead(record), payload, 0, payload.length, '}\n')
      rows++
      continue
    }
    if (record.value === null) {
      tombstones++
      continue
    }
    const match = matchSchema(decoder, record.value, () => fields === undefined)
    if (!match?.fields || (fields !== undefined && match.fields !== fields)) return undefined
    fields = match.fields
    rows++
    // The payload bytes go to the file as they are: no decoding, no parsing in JavaScript.
    lines.append(stagedHead(record), record.value, match.payloadStart, match.payloadEnd, '}\n')
  }
  return fields && rows > 0 ? { buffers: lines.buffers(), fields, rows, tombstones } : undefined
}
