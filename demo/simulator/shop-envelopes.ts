/** Debezium-shaped envelopes (JSON converter, schemas enabled, Postgres source) for the demo shop's tables. */

export interface FieldSchema {
  type: string
  optional: boolean
  field: string
  name?: string
  version?: number
  parameters?: Record<string, string>
}

const micro = (field: string, optional = true): FieldSchema => ({ type: 'int64', optional, name: 'io.debezium.time.MicroTimestamp', version: 1, field })
const decimal = (field: string, precision: number, scale: number): FieldSchema => ({
  type: 'bytes',
  optional: true,
  name: 'org.apache.kafka.connect.data.Decimal',
  version: 1,
  parameters: { scale: String(scale), 'connect.decimal.precision': String(precision) },
  field,
})

export const orderFields: FieldSchema[] = [
  { type: 'int32', optional: false, field: 'id' },
  { type: 'int32', optional: false, field: 'buyer_id' },
  { type: 'string', optional: false, field: 'status' },
  micro('order_date', false),
  micro('updated_at', false),
  decimal('total', 12, 2),
  { type: 'string', optional: true, field: 'city' },
  { type: 'string', optional: true, field: 'country' },
]

export const catalogItemFields: FieldSchema[] = [
  { type: 'int32', optional: false, field: 'id' },
  { type: 'string', optional: false, field: 'name' },
  { type: 'string', optional: true, field: 'description' },
  decimal('price', 10, 2),
  { type: 'int32', optional: false, field: 'brand_id' },
  { type: 'int32', optional: false, field: 'type_id' },
  { type: 'int32', optional: false, field: 'available_stock' },
  { type: 'int32', optional: false, field: 'restock_threshold' },
  micro('created_at', false),
  micro('updated_at', false),
]

/** The `source` block of a Debezium Postgres connector's envelope schema. */
export const postgresSourceSchema = {
  type: 'struct',
  fields: [
    { type: 'string', optional: false, field: 'version' },
    { type: 'string', optional: false, field: 'connector' },
    { type: 'string', optional: false, field: 'name' },
    { type: 'int64', optional: false, field: 'ts_ms' },
    { type: 'string', optional: false, field: 'db' },
    { type: 'string', optional: false, field: 'schema' },
    { type: 'string', optional: false, field: 'table' },
    { type: 'int64', optional: true, field: 'txId' },
    { type: 'int64', optional: true, field: 'lsn' },
  ],
  optional: false,
  name: 'io.debezium.connector.postgresql.Source',
  field: 'source',
} as const

/** Big-endian two's-complement bytes of an unscaled decimal, base64 (how Debezium writes DECIMAL). */
export function decimalBytes(unscaled: bigint): string {
  if (unscaled === 0n) return 'AA=='
  const bytes: number[] = []
  let value = unscaled
  for (;;) {
    bytes.unshift(Number(value & 0xffn))
    value >>= 8n
    const sign = bytes[0]! & 0x80
    if ((value === 0n && !sign) || (value === -1n && sign)) break
  }
  return Buffer.from(bytes).toString('base64')
}

/** Cents to Debezium decimal bytes at scale 2. */
export function money(cents: number): string {
  return decimalBytes(BigInt(cents))
}

function envelopeSchema(service: string, table: string, fields: FieldSchema[]): Record<string, unknown> {
  const valueName = `${service}.public.${table}.Value`
  const row = { type: 'struct', fields, optional: true, name: valueName }
  return {
    type: 'struct',
    fields: [
      { ...row, field: 'before' },
      { ...row, field: 'after' },
      postgresSourceSchema,
      { type: 'string', optional: false, field: 'op' },
      { type: 'int64', optional: true, field: 'ts_ms' },
    ],
    optional: false,
    name: `${service}.public.${table}.Envelope`,
    version: 2,
  }
}

export interface EnvelopeParts {
  service: string
  table: string
  fields: FieldSchema[]
  op: 'c' | 'u' | 'd' | 'r'
  before: Record<string, unknown> | null
  after: Record<string, unknown> | null
  lsn: number
  txId: number
  tsMs: number
}

const schemaCache = new Map<string, string>()

/** The envelope as JSON text; the schema part is rendered once per table. */
export function envelopeJson(parts: EnvelopeParts): string {
  const cacheKey = `${parts.service}.${parts.table}`
  let schema = schemaCache.get(cacheKey)
  if (!schema) schemaCache.set(cacheKey, (schema = JSON.stringify(envelopeSchema(parts.service, parts.table, parts.fields))))
  const payload = {
    before: parts.before,
    after: parts.after,
    source: { version: '2.7.0.Final', connector: 'postgresql', name: parts.service, ts_ms: parts.tsMs, db: parts.service, schema: 'public', table: parts.table, txId: parts.txId, lsn: parts.lsn },
    op: parts.op,
    ts_ms: parts.tsMs + 3,
  }
  return `{"schema":${schema},"payload":${JSON.stringify(payload)}}`
}
