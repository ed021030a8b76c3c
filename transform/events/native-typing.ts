import { quoteIdent, quoteLiteral } from '../../core/duckdb/index.ts'
import { infinityCounts, maxEpochNano, minEpochNano, uuidPattern, type ColumnSpec, type TypedField } from './connect-schema.ts'
import { changeMetadataColumns } from './batch-typing.ts'
import { maxEpochDay, maxEpochSecond, minEpochDay, minEpochSecond, strictBase64Sql } from './strict-values.ts'

/**
 * DuckDB-side typing of schema'd Debezium envelopes: read_json parses each payload straight into a
 * STRUCT and SQL converts Connect encodings (days, micros, decimal bytes, base64) into the same types
 * typeConnectField gives, so the JSON is never parsed in JavaScript. Only fields whose conversion is
 * exact in SQL qualify; anything else makes the plan undefined and the batch goes the JavaScript way.
 */
export interface NativeChangePlan {
  /** read_json `columns` for one NDJSON line: {"o", "ts", "k", "h", "p"}. */
  lineColumns: string
  /** SQL over `p` for `r`, the row image the table columns come from (null for a truncate). */
  rowImage: string
  /** SELECT list over a subquery exposing `p` (payload), `r` (the row image), `o`, `ts`, `k`, `h`. */
  selectList: string
  /** Rows with an op that is not c/u/d/r/t, or no row image where one is needed, fail this check. */
  invalidCondition: string
  columns: ColumnSpec[]
}

const sourceStruct = 'STRUCT(lsn BIGINT, "file" VARCHAR, pos BIGINT, ts_ms BIGINT, "txId" BIGINT, gtid VARCHAR, xid BIGINT)'

/**
 * `sql` when `ok` holds (or the value is null), else a failed statement: the batch then goes the JavaScript
 * way, which sends just the offending record to the dead letters, as strict-values.ts decides.
 */
function guard(ref: string, ok: string, sql: string, what: string): string {
  return `CASE WHEN ${ref} IS NULL OR (${ok}) THEN ${sql} ELSE error(${quoteLiteral(`undecodable ${what}`)}) END`
}

/** A count of `unitsPerSecond` as a TIMESTAMP, PostgreSQL's infinities as Debezium writes them included (infinityCounts). */
function infinityGuard(ref: string, unitsPerSecond: bigint, ok: string, sql: string): string {
  const { positive, negative } = infinityCounts[String(unitsPerSecond)]!
  return guard(ref, `${ref} IN (${positive}, ${negative}) OR (${ok})`, `CASE ${ref} WHEN ${positive} THEN TIMESTAMP 'infinity' WHEN ${negative} THEN TIMESTAMP '-infinity' ELSE ${sql} END`, 'timestamp')
}

/**
 * Big-endian two's complement of up to 8 bytes, read as a BIT string straight into an unsigned integer (about a
 * third less CPU than through hex text); no bytes or more than 8 fail the cast, and the JavaScript way decides.
 */
function decimalExpr(ref: string, precision: number, scale: number): string {
  const bits = `from_base64(${ref})::BIT`
  const unscaled = `(${bits}::UBIGINT::HUGEINT - CASE WHEN get_bit(${bits}, 0) = 1 THEN (1::HUGEINT << bit_length(${bits})) ELSE 0 END)`
  const factor = scale === 0 ? '' : ` * CAST('0.${'0'.repeat(scale - 1)}1' AS DECIMAL(${scale + 1},${scale}))`
  return `CAST(CAST(${unscaled} AS DECIMAL(18,0))${factor} AS DECIMAL(${precision},${scale}))`
}

/**
 * ZonedTimestamp text strictIsoInstant takes, with an explicit offset (without one, DuckDB would read the session's
 * time zone where the JavaScript way reads UTC) and at most microseconds (TIMESTAMPTZ would drop more digits).
 * Anything else (BC years, 24:00, zone names DuckDB alone reads) is decided the JavaScript way.
 */
const zonedTimestampPattern =
  '^(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})-[0-9]{2}-[0-9]{2}[T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,6}0{0,3})?)?(Z|[+-](0[0-9]|1[0-8])(:?[0-5][0-9])?)$'

/**
 * JSON text JSON.parse would take: DuckDB's parser also takes NaN, Infinity, trailing commas and raw control
 * characters. The pattern may also match inside a string (a value saying "a: NaN"): that batch just goes the
 * JavaScript way.
 */
const lenientJson = '(?i)(^|[\\[:,])\\s*[-+]?(nan|inf)|,\\s*[\\]}]|[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f]'


/** A JSON string's text, for base64 read as JSON: base64 has no escapes (a `\\` fails the base64 check). */
function jsonStringText(ref: string): string {
  return `substr(${ref}, 2, length(${ref}) - 2)`
}

/** [struct field type, SQL producing the column from `ref`] for one field, or undefined when SQL cannot do it exactly. */
function nativeField(field: TypedField, ref: string): [string, string] | undefined {
  const schema = field.schema
  if (!schema) return undefined
  const type = field.spec.type
  switch (schema.name) {
    case 'io.debezium.time.Date':
    case 'org.apache.kafka.connect.data.Date':
      return ['INTEGER', guard(ref, `${ref} BETWEEN ${minEpochDay} AND ${maxEpochDay}`, `(DATE '1970-01-01' + ${ref})`, 'date')]
    case 'io.debezium.time.Timestamp':
    case 'org.apache.kafka.connect.data.Timestamp':
      return ['BIGINT', infinityGuard(ref, 1000n, `${ref} BETWEEN ${minEpochSecond * 1000n} AND ${maxEpochSecond * 1000n + 999n}`, `epoch_ms(${ref})`)]
    case 'io.debezium.time.MicroTimestamp':
      return ['BIGINT', infinityGuard(ref, 1_000_000n, `${ref} BETWEEN ${minEpochSecond * 1_000_000n} AND ${maxEpochSecond * 1_000_000n + 999_999n}`, `make_timestamp(${ref})`)]
    case 'io.debezium.time.NanoTimestamp':
      return ['BIGINT', guard(ref, `${ref} BETWEEN ${minEpochNano} AND ${maxEpochNano}`, `make_timestamp_ns(${ref})`, 'timestamp')]
    case 'io.debezium.time.ZonedTimestamp':
      return ['VARCHAR', guard(ref, `${ref} IN ('infinity', '-infinity') OR regexp_full_match(${ref}, ${quoteLiteral(zonedTimestampPattern)})`, `CAST(${ref} AS TIMESTAMPTZ)`, 'timestamp')]
    case 'io.debezium.data.Json':
      return ['VARCHAR', guard(ref, `json_valid(${ref}) AND NOT regexp_matches(${ref}, ${quoteLiteral(lenientJson)})`, `CAST(${ref} AS JSON)`, 'JSON')]
    case 'io.debezium.data.Uuid':
      // DuckDB's cast also takes braces, which the JavaScript way refuses.
      return ['VARCHAR', guard(ref, `regexp_full_match(${ref}, ${quoteLiteral(uuidPattern)})`, `CAST(${ref} AS UUID)`, 'UUID')]
    case 'io.debezium.time.Year':
      return ['INTEGER', ref]
    case 'org.apache.kafka.connect.data.Decimal': {
      const match = /^DECIMAL\((\d+),(\d+)\)$/.exec(type)
      if (!match || Number(match[1]) > 18) return undefined // unscaled value may not fit 8 bytes
      // Read as JSON text, so a JSON string (base64 bytes) and a number (decimal.format=NUMERIC: 1234 is valid
      // base64 too) stay apart; numbers go the JavaScript way.
      const text = jsonStringText(ref)
      return ['JSON', guard(ref, `left(${ref}, 1) = '"' AND ${strictBase64Sql(text)}`, decimalExpr(text, Number(match[1]), Number(match[2])), 'decimal bytes')]
    }
    case undefined:
      break
    default:
      return undefined
  }
  if (schema.parameters?.['__debezium.source.column.type']) return undefined
  switch (schema.type) {
    case 'int8':
    case 'int16':
    case 'int32':
    case 'int64':
      // Typed, as JsonConverter writes integers: read_json would round a fraction (1.5 to 2) and read true as 1, but
      // checking every integer's text cost a fifth of a landing; the JavaScript way refuses those (edge-values.test.ts).
      return [type, ref]
    case 'float32':
    case 'float64': {
      // As JSON text: read_json would read true as 1, and 1e400 or (into FLOAT) 1e39 as infinity. Jackson quotes NaN
      // and the infinities, which land as such.
      const double = `CAST(replace(${ref}, '"', '') AS DOUBLE)`
      const number = `left(${ref}, 1) NOT IN ('"', 't', 'f', '[', '{') AND isfinite(${double})`
      return ['JSON', guard(ref, `${ref} IN ('"NaN"', '"Infinity"', '"-Infinity"') OR (${number})`, type === 'FLOAT' ? `CAST(${double} AS FLOAT)` : double, 'number')]
    }
    case 'boolean':
      // As JSON text: read_json would read 1.5 or "12" as true.
      return ['JSON', guard(ref, `${ref} IN ('true', 'false')`, `(${ref} = 'true')`, 'boolean')]
    case 'string':
      return [type, ref]
    case 'bytes': {
      // As JSON text, as decimal bytes are: the number 1234 is not the base64 text "1234".
      const text = jsonStringText(ref)
      return ['JSON', guard(ref, `left(${ref}, 1) = '"' AND ${strictBase64Sql(text)}`, `from_base64(${text})`, 'base64 bytes')]
    }
    default:
      return undefined
  }
}

/**
 * A BIGINT as decimal text left-padded with zeros to 20 characters, as `lpad(…, 20, '0')` gives it (a BIGINT's text
 * is at most 20 characters, so nothing is cut): a substring of zeros and a concatenation cost about half of lpad's
 * per-character padding (3 M values: 320 against 580 ms CPU).
 */
function zeroPad20(bigint: string): string {
  const text = `CAST(${bigint} AS VARCHAR)`
  return `substr('${'0'.repeat(20)}', 1, 20 - length(${text})) || ${text}`
}

export function nativeChangePlan(fields: TypedField[], topic: string, partition: number): NativeChangePlan | undefined {
  const reserved = new Set(changeMetadataColumns.map((c) => c.name))
  const structFields: string[] = []
  const selects: string[] = []
  const columns: ColumnSpec[] = []
  for (const field of fields) {
    const name = field.spec.name
    if (reserved.has(name)) continue
    const native = nativeField(field, `r.${quoteIdent(name)}`)
    if (!native) return undefined
    structFields.push(`${quoteIdent(name)} ${native[0]}`)
    selects.push(`${native[1]} AS ${quoteIdent(name)}`)
    columns.push({ name, type: field.spec.type })
  }
  const row = `STRUCT(${structFields.join(', ')})`
  const payload = `STRUCT(op VARCHAR, "before" ${row}, "after" ${row}, source ${sourceStruct}, ts_ms BIGINT, "transaction" STRUCT(id VARCHAR))`
  const lineColumns = `{'o': 'BIGINT', 'ts': 'BIGINT', 'k': 'VARCHAR', 'h': 'JSON', 'p': ${quoteLiteral(payload)}}`
  const metadata = [
    `p.op AS _cp_op`,
    `(p.op = 'd') AS _cp_deleted`,
    `CASE WHEN p.source.lsn IS NOT NULL THEN ${zeroPad20('p.source.lsn')} WHEN p.source."file" IS NOT NULL AND p.source.pos IS NOT NULL THEN p.source."file" || ':' || ${zeroPad20('p.source.pos')} END AS _cp_source_pos`,
    `COALESCE(p.source.ts_ms, p.ts_ms) AS _cp_ts_ms`,
    `COALESCE(p."transaction".id, CAST(p.source."txId" AS VARCHAR), p.source.gtid, CAST(p.source.xid AS VARCHAR)) AS _cp_tx_id`,
    `${quoteLiteral(topic)} AS _cp_topic`,
    `CAST(${partition} AS INTEGER) AS _cp_partition`,
    `o AS _cp_offset`,
    `k AS _cp_key`,
    // Microseconds straight into a TIMESTAMPTZ: the same instant as CAST(epoch_ms(ts) AS TIMESTAMPTZ), without ICU's
    // calendar conversion of a naive timestamp (about 130 ns a row); a time past BIGINT microseconds fails the batch.
    `make_timestamptz(ts * 1000) AS _cp_timestamp`,
    `h AS _cp_headers`,
  ]
  return {
    lineColumns,
    // A truncate has no row image: rowImage is null for it, so its table columns are.
    rowImage: `CASE p.op WHEN 'd' THEN p."before" WHEN 't' THEN NULL ELSE p."after" END`,
    selectList: [...selects, ...metadata].join(', '),
    invalidCondition: `p.op IS NULL OR p.op NOT IN ('c', 'u', 'd', 'r', 't') OR (p.op <> 't' AND r IS NULL)`,
    columns: [...columns, ...changeMetadataColumns],
  }
}
