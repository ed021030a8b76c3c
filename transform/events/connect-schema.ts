import { failValue, maxEpochDay, maxEpochSecond, minEpochDay, minEpochSecond, strictBase64, strictInteger, strictIsoInstant, ValueTypeError } from './strict-values.ts'

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

/** Raised by converters; batch typing turns it into a dead letter naming the column. */
export function isValueTypeError(error: unknown): error is Error {
  return error instanceof ValueTypeError
}

const fail = failValue

function asInteger(value: unknown, connectType = 'int64'): bigint {
  return strictInteger(value, connectType)
}

function pad2(n: number): string {
  return String(n).padStart(2, '0')
}

/** Days since 1970-01-01 as `YYYY-MM-DD` (proleptic Gregorian, like Debezium); years 0001 to 9999 only. */
export function epochDaysToDate(days: number): string {
  if (!Number.isInteger(days) || days < minEpochDay || days > maxEpochDay) fail('a date in years 0001 to 9999 (days since 1970-01-01)', days)
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
  if (seconds < minEpochSecond || seconds > maxEpochSecond) fail('a timestamp in years 0001 to 9999', String(count))
  const date = new Date(Number(seconds) * 1000)
  const iso = date.toISOString() // YYYY-MM-DDTHH:MM:SS.000Z (years past 9999 are out of DuckDB's range anyway)
  const base = `${iso.slice(0, 10)} ${iso.slice(11, 19)}`
  if (fractionDigits === 0) return base
  return `${base}.${String(fraction).padStart(fractionDigits, '0')}`
}

/** A time of day from a count since midnight: 00:00:00 up to 24:00:00 (which Postgres and DuckDB allow), nothing else. */
function timeOfDay(count: bigint, unitsPerSecond: bigint, fractionDigits: number): string {
  const day = 86_400n * unitsPerSecond
  if (count < 0n || count > day) fail('a time of day (00:00:00 to 24:00:00)', String(count))
  if (count === day) return `24:00:00${fractionDigits > 0 ? `.${'0'.repeat(fractionDigits)}` : ''}`
  return epochToTimestamp(count, unitsPerSecond, fractionDigits).slice(11)
}

/**
 * Big-endian two's-complement bytes (base64, as the JSON converter writes them) to an exact decimal
 * string. Text that is not strictly valid base64, or no bytes at all (Java's BigInteger always writes at
 * least one), is undecodable.
 */
export function decodeDecimalBytes(base64: string, scale: number): string {
  if (!Number.isInteger(scale)) fail('an integer decimal scale', scale)
  const bytes = strictBase64(base64, 'decimal bytes')
  if (bytes.length === 0) fail('decimal bytes (at least one byte)', base64)
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

/** Whether exact decimal text fits DECIMAL(precision, scale) (the column DuckDB casts it into). */
function fitsDecimal(text: string, type: string): boolean {
  const match = /^DECIMAL\((\d+),(\d+)\)$/.exec(type)
  if (!match) return true
  const [whole = '', fraction = ''] = text.replace(/^-/, '').split('.')
  const integerDigits = whole.replace(/^0+/, '').length
  return integerDigits <= Number(match[1]) - Number(match[2]) && fraction.replace(/0+$/, '').length <= Number(match[2])
}

const plainDecimal = /^-?\d+(\.\d+)?$/

function decimalConverter(scale: number, type: string): ValueConverter {
  return (value) => {
    let text: string
    if (typeof value === 'string') text = decodeDecimalBytes(value, scale)
    else if (typeof value === 'number' && Number.isFinite(value) && plainDecimal.test(String(value))) text = String(value)
    else return fail('decimal bytes (base64)', value)
    return fitsDecimal(text, type) ? text : fail(type, text)
  }
}

/** decimal.handling.mode=string with the source type: the text must be a plain decimal that fits (not NaN, not 1e5). */
function decimalTextConverter(type: string): ValueConverter {
  return (value) => (typeof value === 'string' && plainDecimal.test(value) && fitsDecimal(value, type) ? value : fail(type, value))
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
      return (value) => String(asInteger(value, type))
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
      // Passed on as text for DuckDB's from_base64, which would refuse a whole batch over one bad value.
      return (value) => (typeof value === 'string' && strictBase64(value) ? value : fail('base64 bytes', value))
    default:
      return identity
  }
}

const zonedTimePattern = /^([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?(Z|[+-]\d{2}(:?\d{2})?)$/

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
        convert: (v) => (typeof v === 'string' ? strictIsoInstant(v) : undefined) ?? fail('an ISO-8601 timestamp', v),
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
      // DuckDB reads HH:MM:SS[.f]±HH[:MM] but not a trailing Z (which Debezium writes for UTC).
      return {
        spec: { name, type: 'TIMETZ' },
        convert: (v) => (typeof v === 'string' && zonedTimePattern.test(v) ? v.replace(/Z$/, '+00') : fail('a time with offset (HH:MM:SS[.f]Z or ±HH:MM)', v)),
      }
    case 'io.debezium.time.Year':
      return { spec: { name, type: 'INTEGER' }, convert: primitiveConverter('int32') }
    case 'io.debezium.time.MicroDuration':
      return { spec: { name, type: 'INTERVAL', wireType: 'BIGINT', wireExpr: 'to_microseconds($)' }, convert: (v) => String(asInteger(v)) }
    case 'org.apache.kafka.connect.data.Decimal': {
      const scale = Number(params.scale ?? 0)
      const precision = params['connect.decimal.precision'] === undefined ? undefined : Number(params['connect.decimal.precision'])
      const type = decimalType(precision, scale)
      return { spec: { name, type }, convert: decimalConverter(scale, type) }
    }
    case 'io.debezium.data.VariableScaleDecimal':
      // The scale changes per value, so no one DECIMAL(p,s) fits every row: exact text.
      return {
        spec: { name, type: 'VARCHAR' },
        convert: (v) => {
          const struct = v as { scale?: unknown; value?: unknown } | null
          if (!struct || typeof struct !== 'object' || typeof struct.value !== 'string') return fail('{scale, value} variable-scale decimal', v)
          const scale = struct.scale ?? 0
          if (typeof scale !== 'number' || !Number.isInteger(scale) || scale < 0 || scale > 1000) return fail('an integer scale', struct.scale)
          return decodeDecimalBytes(struct.value, scale)
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
    const type = decimalType(Number.isFinite(precision) ? precision : undefined, scale)
    return { spec: { name, type }, convert: type === 'VARCHAR' ? primitiveConverter('string') : decimalTextConverter(type) }
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
