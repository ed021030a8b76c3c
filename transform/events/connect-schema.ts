/**
 * Kafka Connect schemas (as Debezium's JSON converter writes them) to DuckDB column types, and each
 * field's JSON value to the text DuckDB's read_json casts exactly into that type.
 */

/** How one column travels: its DuckDB type, and a SQL expression applied after read_json when the wire form differs. */
export interface ColumnSpec {
  name: string
  /** DuckDB type of the landed column, e.g. `DECIMAL(12,2)`, `TIMESTAMP`. */
  type: string
  /** The type read_json reads the NDJSON value as; defaults to `type`. */
  wireType?: string
  /** SQL applied to the wire column, `$` standing for it (e.g. `from_base64($)`). */
  wireExpr?: string
}

/** A Connect schema node: `{type, optional, name, version, parameters, field, fields, items, keys, values}`. */
export interface ConnectSchema {
  type: string
  optional?: boolean
  name?: string
  version?: number
  parameters?: Record<string, string>
  field?: string
  fields?: ConnectSchema[]
  items?: ConnectSchema
  keys?: ConnectSchema
  values?: ConnectSchema
}

/** Converts a field's decoded JSON value into what read_json casts into the column type; throws on a value that does not fit. */
export type ValueConverter = (value: unknown) => unknown

export interface TypedField {
  spec: ColumnSpec
  convert: ValueConverter
  /** The Connect schema it was typed from (lets DuckDB-side typing pick the same conversion). */
  schema?: ConnectSchema
}

const maxDecimalPrecision = 38

const primitiveTypes: Record<string, string> = {
  int8: 'TINYINT',
  int16: 'SMALLINT',
  int32: 'INTEGER',
  int64: 'BIGINT',
  float32: 'FLOAT',
  float64: 'DOUBLE',
  boolean: 'BOOLEAN',
  string: 'VARCHAR',
  bytes: 'BLOB',
}

class ValueTypeError extends Error {}

/** Raised by converters; the decoder turns it into a dead letter naming the column. */
export function isValueTypeError(error: unknown): error is Error {
  return error instanceof ValueTypeError
}

function fail(expected: string, value: unknown): never {
  throw new ValueTypeError(`expected ${expected}, got ${JSON.stringify(value)?.slice(0, 80)}`)
}

function asInteger(value: unknown): bigint {
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value)
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return BigInt(value)
  return fail('an integer', value)
}

function pad2(n: number): string {
  return String(n).padStart(2, '0')
}

/** Days since 1970-01-01 as `YYYY-MM-DD` (proleptic Gregorian, like Debezium). */
export function epochDaysToDate(days: number): string {
  const date = new Date(days * 86_400_000)
  const year = date.getUTCFullYear()
  const y = year < 0 ? `-${String(-year).padStart(4, '0')}` : String(year).padStart(4, '0')
  return `${y}-${pad2(date.getUTCMonth() + 1)}-${pad2(date.getUTCDate())}`
}

/** A count of `unitsPerSecond` since the epoch as `YYYY-MM-DD HH:MM:SS.fffffffff` with exact fractional digits. */
export function epochToTimestamp(count: bigint, unitsPerSecond: bigint, fractionDigits: number): string {
  let seconds = count / unitsPerSecond
  let fraction = count % unitsPerSecond
  if (fraction < 0n) {
    fraction += unitsPerSecond
    seconds -= 1n
  }
  const date = new Date(Number(seconds) * 1000)
  const iso = date.toISOString() // YYYY-MM-DDTHH:MM:SS.000Z (years past 9999 are out of DuckDB's range anyway)
  const base = `${iso.slice(0, 10)} ${iso.slice(11, 19)}`
  if (fractionDigits === 0) return base
  return `${base}.${String(fraction).padStart(fractionDigits, '0')}`
}

function timeOfDay(count: bigint, unitsPerSecond: bigint, fractionDigits: number): string {
  return epochToTimestamp(count, unitsPerSecond, fractionDigits).slice(11)
}

/** Big-endian two's-complement bytes (base64, as the JSON converter writes them) to an exact decimal string. */
export function decodeDecimalBytes(base64: string, scale: number): string {
  const bytes = Buffer.from(base64, 'base64')
  if (bytes.length === 0) return '0'
  let unscaled = BigInt(`0x${bytes.toString('hex')}`)
  if (bytes[0]! & 0x80) unscaled -= 1n << BigInt(bytes.length * 8)
  return formatUnscaled(unscaled, scale)
}

export function formatUnscaled(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n
  const digits = (negative ? -unscaled : unscaled).toString()
  if (scale <= 0) return `${negative ? '-' : ''}${digits}${'0'.repeat(-scale)}`
  const padded = digits.padStart(scale + 1, '0')
  return `${negative ? '-' : ''}${padded.slice(0, -scale)}.${padded.slice(-scale)}`
}

function decimalConverter(scale: number): ValueConverter {
  return (value) => {
    if (typeof value === 'string') return decodeDecimalBytes(value, scale)
    if (typeof value === 'number') return String(value)
    return fail('decimal bytes (base64)', value)
  }
}

function decimalType(precision: number | undefined, scale: number): string {
  if (scale > maxDecimalPrecision || scale < 0) return 'VARCHAR'
  if (precision !== undefined && precision > maxDecimalPrecision) return 'VARCHAR'
  const p = Math.max(precision ?? maxDecimalPrecision, scale, 1)
  return `DECIMAL(${p},${scale})`
}

const identity: ValueConverter = (value) => value

function primitiveConverter(type: string): ValueConverter {
  switch (type) {
    case 'int8':
    case 'int16':
    case 'int32':
    case 'int64':
      return (value) => String(asInteger(value))
    case 'float32':
    case 'float64':
      return (value) => {
        if (typeof value === 'number') return value
        if (value === 'NaN' || value === 'Infinity' || value === '-Infinity') return value
        return fail('a number', value)
      }
    case 'boolean':
      return (value) => (typeof value === 'boolean' ? value : fail('a boolean', value))
    case 'string':
      return (value) => (typeof value === 'string' ? value : fail('a string', value))
    case 'bytes':
      return (value) => (typeof value === 'string' ? value : fail('base64 bytes', value))
    default:
      return identity
  }
}

const blobWire = { wireType: 'VARCHAR', wireExpr: 'from_base64($)' }

/** The column type and converter for one Connect field. */
export function typeConnectField(schema: ConnectSchema, name = schema.field ?? ''): TypedField {
  return { ...typeConnectFieldOnly(schema, name), schema }
}

function typeConnectFieldOnly(schema: ConnectSchema, name: string): TypedField {
  const logical = schema.name
  const params = schema.parameters ?? {}
  switch (logical) {
    case 'io.debezium.time.Date':
    case 'org.apache.kafka.connect.data.Date':
      return { spec: { name, type: 'DATE' }, convert: (v) => epochDaysToDate(Number(asInteger(v))) }
    case 'io.debezium.time.Timestamp':
    case 'org.apache.kafka.connect.data.Timestamp':
      return { spec: { name, type: 'TIMESTAMP' }, convert: (v) => epochToTimestamp(asInteger(v), 1000n, 3) }
    case 'io.debezium.time.MicroTimestamp':
      return { spec: { name, type: 'TIMESTAMP' }, convert: (v) => epochToTimestamp(asInteger(v), 1_000_000n, 6) }
    case 'io.debezium.time.NanoTimestamp':
      return { spec: { name, type: 'TIMESTAMP_NS' }, convert: (v) => epochToTimestamp(asInteger(v), 1_000_000_000n, 9) }
    case 'io.debezium.time.ZonedTimestamp':
    case 'io.debezium.time.IsoTimestamp':
      return {
        spec: { name, type: 'TIMESTAMPTZ' },
        convert: (v) => (typeof v === 'string' && !Number.isNaN(Date.parse(v)) ? v : fail('an ISO-8601 timestamp', v)),
      }
    case 'io.debezium.time.Time':
    case 'org.apache.kafka.connect.data.Time':
      return { spec: { name, type: 'TIME' }, convert: (v) => timeOfDay(asInteger(v), 1000n, 3) }
    case 'io.debezium.time.MicroTime':
      return { spec: { name, type: 'TIME' }, convert: (v) => timeOfDay(asInteger(v), 1_000_000n, 6) }
    case 'io.debezium.time.NanoTime':
      // DuckDB TIME has microsecond resolution.
      return { spec: { name, type: 'TIME' }, convert: (v) => timeOfDay(asInteger(v) / 1000n, 1_000_000n, 6) }
    case 'io.debezium.time.ZonedTime':
      return { spec: { name, type: 'TIMETZ' }, convert: primitiveConverter('string') }
    case 'io.debezium.time.Year':
      return { spec: { name, type: 'INTEGER' }, convert: primitiveConverter('int32') }
    case 'io.debezium.time.MicroDuration':
      return { spec: { name, type: 'INTERVAL', wireType: 'BIGINT', wireExpr: 'to_microseconds($)' }, convert: (v) => String(asInteger(v)) }
    case 'org.apache.kafka.connect.data.Decimal': {
      const scale = Number(params.scale ?? 0)
      const precision = params['connect.decimal.precision'] === undefined ? undefined : Number(params['connect.decimal.precision'])
      return { spec: { name, type: decimalType(precision, scale) }, convert: decimalConverter(scale) }
    }
    case 'io.debezium.data.VariableScaleDecimal':
      // The scale changes per value, so no one DECIMAL(p,s) fits every row: exact text.
      return {
        spec: { name, type: 'VARCHAR' },
        convert: (v) => {
          const struct = v as { scale?: unknown; value?: unknown } | null
          if (!struct || typeof struct !== 'object' || typeof struct.value !== 'string') return fail('{scale, value} variable-scale decimal', v)
          return decodeDecimalBytes(struct.value, Number(struct.scale ?? 0))
        },
      }
    case 'io.debezium.data.Json':
      return {
        spec: { name, type: 'JSON' },
        convert: (v) => {
          if (typeof v !== 'string') return fail('JSON text', v)
          try {
            return JSON.parse(v) as unknown
          } catch {
            return fail('valid JSON text', v)
          }
        },
      }
    case 'io.debezium.data.Uuid':
      return {
        spec: { name, type: 'UUID' },
        convert: (v) => (typeof v === 'string' && /^[0-9a-f]{8}-?([0-9a-f]{4}-?){3}[0-9a-f]{12}$/i.test(v) ? v : fail('a UUID', v)),
      }
    case 'io.debezium.data.Bits':
      return { spec: { name, type: 'BLOB', ...blobWire }, convert: primitiveConverter('bytes') }
    default:
      break
  }
  // decimal.handling.mode=string/double, with column.propagate.source.type: the source column says DECIMAL(p,s).
  const sourceType = params['__debezium.source.column.type']?.toUpperCase()
  if ((sourceType === 'NUMERIC' || sourceType === 'DECIMAL') && schema.type === 'string' && params['__debezium.source.column.scale'] !== undefined) {
    const precision = Number(params['__debezium.source.column.length'])
    const scale = Number(params['__debezium.source.column.scale'])
    return { spec: { name, type: decimalType(Number.isFinite(precision) ? precision : undefined, scale) }, convert: primitiveConverter('string') }
  }
  const primitive = primitiveTypes[schema.type]
  if (primitive === 'BLOB') return { spec: { name, type: 'BLOB', ...blobWire }, convert: primitiveConverter('bytes') }
  if (primitive) return { spec: { name, type: primitive }, convert: primitiveConverter(schema.type) }
  // struct, array, map (and geometry structs): kept whole as JSON.
  return { spec: { name, type: 'JSON' }, convert: identity }
}

/** Typed fields of a struct schema (the `after`/`before` row of a Debezium envelope), in schema order. */
export function typeConnectStruct(schema: ConnectSchema): TypedField[] {
  return (schema.fields ?? []).map((field) => typeConnectField(field))
}
