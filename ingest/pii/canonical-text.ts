/**
 * The text a value is hashed as. Both landing paths hash this form: DuckDB renders a typed value with
 * `CAST(v AS VARCHAR)`, JavaScript (dead letters) with this function; for text, integers, UUIDs and
 * booleans the two agree, so an email hashed by an export equals the same email hashed from a change event.
 * Decimals, floats and times may render differently between paths (docs/personal-data.md).
 */
export function canonicalText(value: unknown): string | null {
  if (value === null || value === undefined) return null
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'bigint') return String(value)
  if (typeof value === 'boolean') return value ? 'true' : 'false'
  return JSON.stringify(value)
}
