/**
 * Column types for rows that arrive without a schema: inferred from JSON values per batch and widened
 * across batches, so a table's type only ever grows (INTEGER → BIGINT → DOUBLE, anything + VARCHAR → VARCHAR).
 */

import { ExactNumber } from './exact-json.ts'

const int32Min = -2_147_483_648
const int32Max = 2_147_483_647

/** The narrowest DuckDB type that holds a JSON value; undefined for null (it says nothing about the type). */
export function inferJsonType(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined
  // More digits than a double holds (parseJsonExact): an integer that fits stays BIGINT, exact.
  if (value instanceof ExactNumber) return /^-?\d{1,19}$/.test(value.text) && BigInt.asIntN(64, BigInt(value.text)) === BigInt(value.text) ? 'BIGINT' : 'DOUBLE'
  switch (typeof value) {
    case 'boolean':
      return 'BOOLEAN'
    case 'number':
      if (Number.isInteger(value)) return value >= int32Min && value <= int32Max ? 'INTEGER' : Number.isSafeInteger(value) ? 'BIGINT' : 'DOUBLE'
      return 'DOUBLE'
    case 'string':
      return 'VARCHAR'
    default:
      return 'JSON'
  }
}

const numericRank: Record<string, number> = { TINYINT: 0, SMALLINT: 1, INTEGER: 2, BIGINT: 3, FLOAT: 4, DOUBLE: 5 }

function parseDecimal(type: string): { precision: number; scale: number } | undefined {
  const match = /^DECIMAL\((\d+),\s*(\d+)\)$/.exec(type)
  return match ? { precision: Number(match[1]), scale: Number(match[2]) } : undefined
}

/**
 * The type that holds values of both `a` and `b`, or undefined when no type does without losing meaning
 * (BOOLEAN vs INTEGER, JSON vs a number): such a value is a type conflict that goes to the dead letters.
 */
export function widenType(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b
  if (b === undefined || a === b) return a
  if (a === 'VARCHAR' || b === 'VARCHAR') return 'VARCHAR'
  const ra = numericRank[a]
  const rb = numericRank[b]
  if (ra !== undefined && rb !== undefined) {
    const wider = ra >= rb ? a : b
    return wider === 'FLOAT' ? 'DOUBLE' : wider
  }
  const da = parseDecimal(a)
  const db = parseDecimal(b)
  if (da && db) {
    const scale = Math.max(da.scale, db.scale)
    const integerDigits = Math.max(da.precision - da.scale, db.precision - db.scale)
    return integerDigits + scale > 38 ? 'DOUBLE' : `DECIMAL(${integerDigits + scale},${scale})`
  }
  if ((da && rb !== undefined) || (db && ra !== undefined)) return 'DOUBLE'
  if ((a === 'TIMESTAMP' && b === 'TIMESTAMP_NS') || (a === 'TIMESTAMP_NS' && b === 'TIMESTAMP')) return 'TIMESTAMP_NS'
  return undefined
}

/**
 * The text read_json casts into a column inferred as `type`: JSON columns keep the value whole, VARCHAR
 * columns hold numbers and booleans as their JSON text, others pass the value through.
 */
export function inferredWireValue(value: unknown, type: string): unknown {
  if (value === null || value === undefined) return null
  // As text, which DuckDB casts exactly (JSON.stringify would write the rounded double).
  if (value instanceof ExactNumber) return value.text
  if (type === 'VARCHAR' && typeof value !== 'string') return JSON.stringify(value)
  return value
}
