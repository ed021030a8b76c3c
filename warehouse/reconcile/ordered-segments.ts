import { segmentRange, type KeyRange, type KeySplit } from './key-segments.ts'

/**
 * The ordered segment checksum: per segment, md5 over its rows' canonical texts concatenated in key order. It is
 * one md5 per segment instead of one per row (md5 is ~1 µs a call on PostgreSQL 15, more than the text
 * formatting a `COPY` does), but it depends on row order, so it is used only where both sides agree on the
 * order for free: a single integer key column that leads an index of the source, which then reads each
 * segment as one index range scan in key order (no sort, no hash table); DuckDB sorts within each segment.
 */

const int64Min = -(2n ** 63n)
const int64Max = 2n ** 63n - 1n

/** Segment `seg` holds the keys lo ≤ key ≤ hi (inclusive, within bigint). */
export interface IntegerSegment {
  seg: number
  lo: bigint
  hi: bigint
}

/** The inclusive bounds of every segment of `split` over `range` (integer keys); segments no bigint can fall in are left out. */
export function integerSegments(range: KeyRange, split: KeySplit): IntegerSegment[] {
  const out: IntegerSegment[] = []
  for (let i = 0; i <= split.bounds.length; i++) {
    const r = segmentRange(range, split, i)
    const lo = r.lo === undefined ? int64Min : BigInt(r.lo)
    const hi = r.hi === undefined ? int64Max : BigInt(r.hi) - 1n
    const clampedLo = lo < int64Min ? int64Min : lo
    const clampedHi = hi > int64Max ? int64Max : hi
    if (clampedLo <= clampedHi) out.push({ seg: i, lo: clampedLo, hi: clampedHi })
  }
  return out
}

/** Splits segments into `parts` contiguous runs of about equal key span (equal steps: about equal rows). */
export function partition(segments: IntegerSegment[], parts: number): IntegerSegment[][] {
  if (parts <= 1 || segments.length < parts * 2) return [segments]
  const size = Math.ceil(segments.length / parts)
  const out: IntegerSegment[][] = []
  for (let i = 0; i < segments.length; i += size) out.push(segments.slice(i, i + size))
  return out
}

export interface OrderedParts {
  /** The quoted key column. */
  key: string
  relation: string
  /** Row filter (the export's `where`, soft deletes, …) in the side's dialect. */
  where: string
  /** The canonical row text. */
  rowText: string
  /** True for a row too new to compare: counted, left out of the checksum. */
  newer: string
}

/**
 * PostgreSQL: one index range scan per segment (a LATERAL subquery over the segment list), each segment's texts
 * aggregated in key order and hashed once. Only one row per segment comes back.
 */
export function orderedSourceSql(p: OrderedParts, segments: IntegerSegment[]): string {
  const list = (xs: (number | bigint)[]): string => `'{${xs.join(',')}}'`
  return `SELECT v.seg::text AS seg, x.n, x.t, x.s
    FROM unnest(${list(segments.map((s) => s.seg))}::int[], ${list(segments.map((s) => s.lo))}::bigint[], ${list(segments.map((s) => s.hi))}::bigint[]) AS v(seg, lo, hi)
    CROSS JOIN LATERAL (
      SELECT count(h)::text AS n, (count(*) - count(h))::text AS t, coalesce(md5(string_agg(h, '')), '0') AS s FROM (
        SELECT CASE WHEN ${p.newer} THEN NULL ELSE ${p.rowText} END AS h FROM ${p.relation}
        WHERE ${p.where} AND ${p.key} >= v.lo AND ${p.key} <= v.hi ORDER BY ${p.key}) y) x`
}

/** DuckDB: the same checksum per segment, the rows ordered by key inside each group. */
export function orderedWarehouseSql(p: OrderedParts, segmentExpr: string, rangePredicate: string): string {
  return `SELECT CAST(seg AS VARCHAR) AS seg, CAST(count(h) AS VARCHAR) AS n, CAST(count(*) - count(h) AS VARCHAR) AS t,
      coalesce(md5(string_agg(h, '' ORDER BY k)), '0') AS s FROM (
      SELECT ${segmentExpr} AS seg, ${p.key} AS k, CASE WHEN ${p.newer} THEN NULL ELSE ${p.rowText} END AS h
      FROM ${p.relation} WHERE ${p.where} AND ${rangePredicate}) x GROUP BY seg`
}

/** Keys (`k`, an integer column) in any of `segments`: one range per run of adjacent segments; int64's ends left open. */
export function segmentsPredicate(k: string, segments: IntegerSegment[]): string {
  const runs: { lo: bigint; hi: bigint }[] = []
  for (const s of segments) {
    const last = runs.at(-1)
    if (last && last.hi + 1n === s.lo) last.hi = s.hi
    else runs.push({ lo: s.lo, hi: s.hi })
  }
  const range = (r: { lo: bigint; hi: bigint }): string => {
    const parts = [...(r.lo > -(2n ** 63n) ? [`${k} >= ${r.lo}`] : []), ...(r.hi < 2n ** 63n - 1n ? [`${k} <= ${r.hi}`] : [])]
    return parts.length ? `(${parts.join(' AND ')})` : 'true'
  }
  return `(${runs.map(range).join(' OR ')})`
}
