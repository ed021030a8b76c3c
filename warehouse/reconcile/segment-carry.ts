import { createHash } from 'node:crypto'
import type { IntegerSegment } from './ordered-segments.ts'
import type { TextRow } from './reconcile-source.ts'
import type { CutoffKey, KeptSegment, SegmentCache } from './segment-cache.ts'

/**
 * The warehouse side's first pass over an aligned integer split, computing only the segments whose aggregate may
 * differ from the one an earlier run kept (segment-cache.ts), and carrying every other one forward. A kept
 * segment is reused when
 * - its key range is the same (aligned splits keep their bounds while the table grows a little),
 * - no key whose row differs between the earlier delta file and today's falls in it (the state file is the same:
 *   the cache is keyed by it), and
 * - it counts and hashes the same rows as too new and excludes the same too-new keys: the compare point is the
 *   same and so are the segment's excluded keys; or the compare point moved forward and the segment had, and
 *   has, neither rows after it nor excluded keys (its rows were at or before the old point, so the new one too).
 */
export interface CarryInput {
  cache: SegmentCache
  /** What the statement computes besides its segments (columns, types, filters, hash form): keys the cache. */
  shape: string
  /** Every segment of the split, in key order. */
  segments: IntegerSegment[]
  cutoff?: CutoffKey
  /** Canonical texts of the too-new keys excluded on the warehouse side (the first column's value first). */
  excludedKeys: string[]
  keyColumns: string[]
  /** The segment numbers of the keys of a DuckDB relation. */
  segmentsOf(relation: string): Promise<Set<number>>
  /** The warehouse aggregate (rows seg, n, t, s) of these segments, or of all of them (undefined). */
  compute(only: IntegerSegment[] | undefined): Promise<TextRow[]>
}

export interface CarryOutcome {
  rows: TextRow[]
  carried: number
  computed: number
  /** Why nothing could be carried, when nothing was. */
  reason?: string
}

export async function carryForward(input: CarryInput): Promise<CarryOutcome> {
  const excluded = excludedBySegment(input.segments, input.excludedKeys)
  const reuse = new Map<number, KeptSegment>()
  const reason = await findReusable(input, excluded, reuse)
  const missing = input.segments.filter((s) => !reuse.has(s.seg))
  const computedRows = missing.length === 0 ? [] : await input.compute(missing.length === input.segments.length ? undefined : missing)
  const computed = new Map(computedRows.map((r) => [Number(r.seg), r]))
  const entries: KeptSegment[] = input.segments.map((s) => {
    const kept = reuse.get(s.seg)
    if (kept) return kept
    const r = computed.get(s.seg)
    // A segment without rows has no row in a GROUP BY: kept as empty.
    return { lo: s.lo.toString(), hi: s.hi.toString(), n: String(r?.n ?? '0'), t: String(r?.t ?? '0'), s: String(r?.s ?? '0'), x: excluded.get(s.seg) ?? '' }
  })
  await input.cache.putSegments(input.shape, { ...(input.cutoff ? { cutoff: input.cutoff } : {}), entries })
  const rows = input.segments.map((s, i) => ({ seg: String(s.seg), n: entries[i]!.n, t: entries[i]!.t, s: entries[i]!.s }))
  return { rows, carried: reuse.size, computed: missing.length, ...(reason ? { reason } : {}) }
}

async function findReusable(input: CarryInput, excluded: Map<number, string>, reuse: Map<number, KeptSegment>): Promise<string | undefined> {
  if (excluded.has(-1)) return 'a too-new key is not an integer'
  const previous = await input.cache.segments(input.shape)
  if (!previous) return 'no segments kept for this state file and statement'
  const same = sameCutoff(previous.cutoff, input.cutoff)
  const forward = same || cutoffMovedForward(previous.cutoff, input.cutoff)
  if (!forward) return 'the compare point moved back or to another column'
  const changedRelation = input.cache.changedKeys(previous.delta, input.keyColumns)
  if (changedRelation === undefined) return 'the delta file the segments were kept for is gone'
  let changed: Set<number>
  try {
    changed = changedRelation === 'none' ? new Set() : await input.segmentsOf(changedRelation)
  } catch {
    // E.g. the two delta files' columns differ (schema drift): every segment computed again.
    return 'the delta files cannot be compared'
  }
  const kept = new Map(previous.entries.map((e) => [`${e.lo}:${e.hi}`, e]))
  for (const s of input.segments) {
    const e = kept.get(`${s.lo}:${s.hi}`)
    if (!e || changed.has(s.seg)) continue
    const x = excluded.get(s.seg) ?? ''
    if ((same && e.x === x) || (e.t === '0' && e.x === '' && x === '')) reuse.set(s.seg, e)
  }
  return undefined
}

function sameCutoff(a: CutoffKey | undefined, b: CutoffKey | undefined): boolean {
  return a?.column === b?.column && a?.kind === b?.kind && a?.value === b?.value
}

function cutoffMovedForward(before: CutoffKey | undefined, now: CutoffKey | undefined): boolean {
  if (!before || !now || before.column !== now.column || before.kind !== now.kind) return false
  if (before.kind === 'date') return now.value >= before.value
  return BigInt(now.value) >= BigInt(before.value)
}

/** Segment number → digest of the excluded keys in it; -1 when a key's first column is not an integer. */
function excludedBySegment(segments: IntegerSegment[], keys: string[]): Map<number, string> {
  const bySegment = new Map<number, string[]>()
  for (const text of keys) {
    const first = text.split('|', 1)[0]!
    if (!/^-?\d+$/.test(first)) return new Map([[-1, '']])
    const k = BigInt(first)
    let lo = 0
    let hi = segments.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (segments[mid]!.lo <= k) lo = mid
      else hi = mid - 1
    }
    const s = segments[lo]
    if (!s || k < s.lo || k > s.hi) continue
    const list = bySegment.get(s.seg) ?? []
    list.push(text)
    bySegment.set(s.seg, list)
  }
  return new Map([...bySegment].map(([seg, list]) => [seg, createHash('sha256').update(list.sort().join('\n')).digest('hex')]))
}
