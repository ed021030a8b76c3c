import { ExactNumber, numberText } from './exact-json.ts'
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

/**
 * How Debezium's PostgreSQL connector writes `infinity` and `-infinity` of a TIMESTAMP column (PostgreSQL JDBC's
 * DATE_POSITIVE_INFINITY / DATE_NEGATIVE_INFINITY, taken as microseconds), by the count's units per second; a
 * ZonedTimestamp is the text `infinity` / `-infinity`. They land as DuckDB's infinities, as an export of the same
 * row does; no real timestamp has such a count (years past 290,000).
 */
export const infinityCounts: Record<string, { positive: bigint; negative: bigint }> = {
  '1000': { positive: 9_223_372_036_825_200n, negative: -9_223_372_036_832_400n },
  '1000000': { positive: 9_223_372_036_825_200_000n, negative: -9_223_372_036_832_400_000n },
}

function infiniteTimestamp(count: bigint, unitsPerSecond: bigint): string | undefined {
  const sentinel = infinityCounts[String(unitsPerSecond)]
  return sentinel === undefined ? undefined : count === sentinel.positive ? 'infinity' : count === sentinel.negative ? '-infinity' : undefined
}

/** A count of `unitsPerSecond` since the epoch as `YYYY-MM-DD HH:MM:SS.fffffffff` with exact fractional digits. */
export function epochToTimestamp(count: bigint, unitsPerSecond: bigint, fractionDigits: number): string {
  const infinite = infiniteTimestamp(count, unitsPerSecond)
  if (infinite) return infinite
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

/**
 * A time of day from a count since midnight: 00:00:00 up to 24:00:00 (which Postgres and DuckDB allow), nothing else.
 * A MySQL TIME past a day (up to 838:59:59) or negative is a duration DuckDB's TIME cannot hold: undecodable, not
 * wrapped around into another time of day.
 */
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
const exponentNumber = /^(-?)(\d+)(?:\.(\d+))?[eE]([+-]?\d{1,3})$/

/** JSON number text as a plain decimal, exactly (1.5E-7 → 0.00000015); undefined past a 3-digit exponent. */
export function plainNumberText(text: string): string | undefined {
  if (plainDecimal.test(text)) return text
  const match = exponentNumber.exec(text)
  if (!match) return undefined
  const [, sign = '', whole = '', fraction = '', exponent = '0'] = match
  const digits = whole + fraction
  const point = whole.length + Number(exponent)
  const unscaled = point <= 0 ? `0.${'0'.repeat(-point)}${digits}` : point >= digits.length ? digits + '0'.repeat(point - digits.length) : `${digits.slice(0, point)}.${digits.slice(point)}`
  const trimmed = unscaled.replace(/^0+(?=\d)/, '')
  return `${sign}${trimmed}`
}

function decimalConverter(scale: number, type: string): ValueConverter {
  return (value) => {
    let text: string | undefined
    if (typeof value === 'string') text = decodeDecimalBytes(value, scale)
    // The JSON converter's decimal.format=NUMERIC writes a number: exact only as parsed by parseJsonExact.
    else text = plainNumberText(numberText(value) ?? '')
    if (text === undefined) return fail('decimal bytes (base64)', value)
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
        if (typeof value === 'number' || value instanceof ExactNumber) {
          const n = Number(value)
          // 1e400 parses as Infinity, which JSON.stringify would write as null.
          if (!Number.isFinite(n)) fail('a finite number (or "NaN", "Infinity", "-Infinity")', value)
          // Past FLOAT's range DuckDB refuses the cast, and the whole batch with it.
          if (type === 'float32' && !Number.isFinite(Math.fround(n))) fail('a float32 (at most ±3.4028235E38)', value)
          // JSON.stringify writes -0 as 0; as text the sign survives. Digits past a double's are DuckDB's to round, as natively.
          return Object.is(n, -0) ? '-0.0' : value instanceof ExactNumber ? value.text : value
        }
        // Jackson quotes the non-numbers (QUOTE_NON_NUMERIC_NUMBERS): they land as IEEE NaN and ±Infinity, what the source held.
        if (value === 'NaN' || value === 'Infinity' || value === '-Infinity') return value
        return fail('a number', value)
      }
    case 'boolean':
      return (value) => (typeof value === 'boolean' ? value : fail('a boolean', value))
    case 'string':
      return (value) => (typeof value === 'string' && !loneSurrogate.test(value) ? value : fail('a string of whole Unicode characters', value))
    case 'bytes':
      // Passed on as text for DuckDB's from_base64, which would refuse a whole batch over one bad value.
      return (value) => (typeof value === 'string' && strictBase64(value) ? value : fail('base64 bytes', value))
    default:
      return identity
  }
}

/** A UTF-16 half of a pair on its own (JSON can escape one, "\\ud800"): DuckDB refuses it, and the whole batch with it. */
const loneSurrogate = /\p{Cs}/u

/** Whether a JSON value (kept whole) holds a lone surrogate in a string or a key. */
export function hasLoneSurrogate(value: unknown): boolean {
  if (typeof value === 'string') return loneSurrogate.test(value)
  if (typeof value !== 'object' || value === null || value instanceof ExactNumber) return false
  if (Array.isArray(value)) return value.some(hasLoneSurrogate)
  return Object.entries(value).some(([key, item]) => loneSurrogate.test(key) || hasLoneSurrogate(item))
}

/** Digits past the sixth of a fraction of a second that are not all zeros: DuckDB's TIMESTAMPTZ and TIME would drop them. */
const subMicrosecond = /\.\d{6}\d*[1-9]/

/** As DuckDB's UUID cast takes it, without braces (which only it would take). */
export const uuidPattern = '^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$'
const uuidRegExp = new RegExp(uuidPattern)

/** TIMESTAMP_NS holds 1677-09-21 … 2262-04-11, less than int64 nanoseconds: whole days inside what DuckDB converts. */
export const minEpochNano = -9_223_286_400_000_000_000n // 1677-09-22 00:00:00
export const maxEpochNano = 9_223_372_036_854_775_806n // int64 max is infinity

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
      return {
        spec: { name, type: 'TIMESTAMP_NS' },
        convert: (v) => {
          const count = asInteger(v)
          if (count < minEpochNano || count > maxEpochNano) fail('a TIMESTAMP_NS (1677-09-22 to 2262-04-11)', String(count))
          return epochToTimestamp(count, 1_000_000_000n, 9)
        },
      }
    case 'io.debezium.time.ZonedTimestamp':
    case 'io.debezium.time.IsoTimestamp':
      return {
        spec: { name, type: 'TIMESTAMPTZ' },
        convert: (v) => {
          if (v === 'infinity' || v === '-infinity') return v
          const instant = (typeof v === 'string' ? strictIsoInstant(v) : undefined) ?? fail('an ISO-8601 timestamp', v)
          // Oracle or SQL Server 100 ns digits: TIMESTAMPTZ would drop them, so the value would land as another instant.
          return subMicrosecond.test(instant) ? fail('an instant in whole microseconds (TIMESTAMPTZ)', v) : instant
        },
      }
    case 'io.debezium.time.Time':
    case 'org.apache.kafka.connect.data.Time':
      return { spec: { name, type: 'TIME' }, convert: (v) => timeOfDay(asInteger(v), 1000n, 3) }
    case 'io.debezium.time.MicroTime':
      return { spec: { name, type: 'TIME' }, convert: (v) => timeOfDay(asInteger(v), 1_000_000n, 6) }
    case 'io.debezium.time.NanoTime':
      // DuckDB TIME has microsecond resolution: a time with nanoseconds would land as another time.
      return {
        spec: { name, type: 'TIME' },
        convert: (v) => {
          const nanos = asInteger(v)
          if (nanos % 1000n !== 0n) fail('a time of day in whole microseconds (TIME)', String(nanos))
          return timeOfDay(nanos / 1000n, 1_000_000n, 6)
        },
      }
    case 'io.debezium.time.ZonedTime':
      // DuckDB reads HH:MM:SS[.f]±HH[:MM] but not a trailing Z (which Debezium writes for UTC).
      return {
        spec: { name, type: 'TIMETZ' },
        convert: (v) => {
          if (typeof v !== 'string' || !zonedTimePattern.test(v)) return fail('a time with offset (HH:MM:SS[.f]Z or ±HH:MM)', v)
          return subMicrosecond.test(v) ? fail('a time in whole microseconds (TIMETZ)', v) : v.replace(/Z$/, '+00')
        },
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
      // Lands as the text the source wrote (1.0 stays 1.0, a 20-digit number keeps its digits), once JSON.parse takes it.
      return {
        spec: { name, type: 'JSON', wireType: 'VARCHAR', wireExpr: 'CAST($ AS JSON)' },
        convert: (v) => {
          if (typeof v !== 'string') return fail('JSON text', v)
          let parsed: unknown
          try {
            parsed = JSON.parse(v)
          } catch {
            return fail('valid JSON text', v)
          }
          return hasLoneSurrogate(parsed) ? fail('JSON text of whole Unicode characters', v) : v
        },
      }
    case 'io.debezium.data.Uuid':
      return {
        spec: { name, type: 'UUID' },
        convert: (v) => (typeof v === 'string' && uuidRegExp.test(v) ? v : fail('a UUID', v)),
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
  return { spec: { name, type: 'JSON' }, convert: (v) => (hasLoneSurrogate(v) ? fail('JSON of whole Unicode characters', v) : v) }
}

/** Typed fields of a struct schema (the `after`/`before` row of a Debezium envelope), in schema order. */
export function typeConnectStruct(schema: ConnectSchema): TypedField[] {
  return (schema.fields ?? []).map((field) => typeConnectField(field))
}
