import { ColdpipeError } from '../../core/errors.ts'

const integerRank: Record<string, number> = { TINYINT: 1, SMALLINT: 2, INTEGER: 3, BIGINT: 4, HUGEINT: 5 }
const integerDigits: Record<string, number> = { TINYINT: 3, SMALLINT: 5, INTEGER: 10, BIGINT: 19, HUGEINT: 39 }

function normalize(type: string): string {
  const t = type.toUpperCase().replace(/\s+/g, ' ').trim()
  if (t === 'TIMESTAMP WITH TIME ZONE') return 'TIMESTAMPTZ'
  if (t === 'JSON') return 'VARCHAR' // JSON is VARCHAR with a tag: readers union them
  return t
}

function decimal(type: string): { p: number; s: number } | undefined {
  const m = /^DECIMAL\((\d+),\s*(\d+)\)$/.exec(type)
  return m ? { p: Number(m[1]), s: Number(m[2]) } : undefined
}

/** Whether values of type `before` are all representable in `after` (a widening, or the same type). */
export function isWidening(before: string, after: string): boolean {
  const a = normalize(before)
  const b = normalize(after)
  if (a === b) return true
  if (a.endsWith('[]') && b.endsWith('[]')) return isWidening(a.slice(0, -2), b.slice(0, -2))
  if (integerRank[a] && integerRank[b]) return integerRank[a]! <= integerRank[b]!
  const da = decimal(a)
  const db = decimal(b)
  if (da && db) return db.s >= da.s && db.p - db.s >= da.p - da.s
  if (integerRank[a] && db) return db.p - db.s >= integerDigits[a]!
  if (a === 'REAL' && b === 'DOUBLE') return true
  if (a === 'DATE' && (b === 'TIMESTAMP')) return true
  // A numeric widened past DECIMAL(38) falls back to exact text.
  if (da && b === 'VARCHAR') return true
  return false
}

/**
 * Checks a table's columns now against the columns of its latest committed files: added and dropped columns
 * are fine (readers union by name), widenings are fine, anything else would break readers of older files.
 */
export function checkSchemaChange(
  service: string,
  table: string,
  previous: { name: string; type: string }[] | undefined,
  current: { name: string; type: string }[],
): void {
  if (!previous) return
  const before = new Map(previous.map((c) => [c.name, c.type]))
  for (const column of current) {
    const old = before.get(column.name)
    if (old === undefined || isWidening(old, column.type)) continue
    throw new ColdpipeError(
      'EXPORT_SCHEMA_INCOMPATIBLE',
      `source ${service}, table ${table}, column ${column.name}: type changed from ${old} to ${column.type}, which is not a widening; the earlier files cannot be read together with new ones (re-export with --full after migrating the lake)`,
      { context: { source: service, table, column: column.name, before: old, after: column.type } },
    )
  }
}
