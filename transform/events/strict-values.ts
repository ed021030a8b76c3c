import { ExactNumber } from './exact-json.ts'

/**
 * Strict checks for wire values that Node (and some SQL functions) would accept leniently: a value that
 * fails one is undecodable, and its record goes to the dead letters instead of landing as something else.
 */

/** Raised by value converters; batch typing turns it into a dead letter naming the field. */
export class ValueTypeError extends Error {}

export function failValue(expected: string, value: unknown): never {
  const shown = value instanceof ExactNumber ? value.text : JSON.stringify(value)
  throw new ValueTypeError(`expected ${expected}, got ${shown?.slice(0, 80)}`)
}

// Node's Buffer.from(text, 'base64') skips characters outside the alphabet and ignores misplaced
// padding, so 'A!ZU=' would decode to some other number. Only canonical, padded base64 passes.
const base64Pattern = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** The bytes of strictly valid (padded, standard-alphabet) base64 text; throws ValueTypeError otherwise. */
export function strictBase64(value: string, what = 'base64 bytes'): Buffer {
  if (!base64Pattern.test(value)) failValue(`${what} (valid base64)`, value)
  return Buffer.from(value, 'base64')
}

/**
 * The SQL form of the same check, for DuckDB-side typing: from_base64 already refuses characters outside
 * the alphabet and lengths that are not a multiple of 4, but accepts '=' in the middle ('AZ=U').
 */
export function strictBase64Sql(ref: string): string {
  return `(strpos(${ref}, '=') = 0 OR (strpos(${ref}, '=') >= length(${ref}) - 1 AND right(${ref}, 1) = '='))`
}

const integerRanges: Record<string, [bigint, bigint]> = {
  int8: [-(2n ** 7n), 2n ** 7n - 1n],
  int16: [-(2n ** 15n), 2n ** 15n - 1n],
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
}

/** An integer of a Connect integer type, range-checked (a TINYINT column cannot take 300). */
export function strictInteger(value: unknown, connectType: keyof typeof integerRanges | string = 'int64'): bigint {
  let n: bigint
  if (typeof value === 'number' && Number.isSafeInteger(value)) n = BigInt(value)
  else if (value instanceof ExactNumber && /^-?\d{1,20}$/.test(value.text)) n = BigInt(value.text)
  else if (typeof value === 'string' && /^-?\d{1,20}$/.test(value)) n = BigInt(value)
  else return failValue('an integer', value)
  const [min, max] = integerRanges[connectType] ?? integerRanges.int64!
  if (n < min || n > max) failValue(`an ${connectType} in [${min}, ${max}]`, value)
  return n
}

/**
 * Dates and timestamps land for years 0001 to 9999: what both typing ways (JavaScript and DuckDB SQL)
 * render alike, and PostgreSQL's infinities as Debezium writes them (connect-schema.ts, infinityCounts). Anything
 * else (a corrupt value) is impossible for the lake's columns and goes to the dead letters.
 */
export const minEpochDay = -719_162 // 0001-01-01
export const maxEpochDay = 2_932_896 // 9999-12-31
export const minEpochSecond = -62_135_596_800n // 0001-01-01 00:00:00
export const maxEpochSecond = 253_402_300_799n // 9999-12-31 23:59:59

const daysInMonth = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

function validCalendar(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0
  return day <= (month === 2 && !leap ? 28 : daysInMonth[month - 1]!)
}

const isoPattern = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/

/**
 * ISO-8601 date-time text that names a real instant (no 30 February, no hour 25; Date.parse lets some of
 * those through), normalized so DuckDB reads it as an instant: a date alone is midnight, no offset is UTC.
 * Undefined when it is not one.
 */
export function strictIsoInstant(value: string): string | undefined {
  const match = isoPattern.exec(value)
  if (!match) return undefined
  const [, y, mo, d, h, mi, s, zone] = match
  if (!validCalendar(Number(y), Number(mo), Number(d)) || Number(y) < 1) return undefined
  if (h !== undefined && (Number(h) > 23 || Number(mi) > 59 || (s !== undefined && Number(s) > 59))) return undefined
  if (zone && zone !== 'Z' && (Number(zone.slice(1, 3)) > 18 || Number(zone.replace(':', '').slice(3) || 0) > 59)) return undefined
  const dateTime = h === undefined ? `${value.slice(0, 10)}T00:00:00` : value.slice(0, value.length - (zone?.length ?? 0))
  return `${dateTime}${zone ?? 'Z'}`
}
