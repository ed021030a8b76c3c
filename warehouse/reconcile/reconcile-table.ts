import type { Database } from '../../core/duckdb/index.ts'
import type { Logger } from '../../core/logger.ts'
import { duckdbDialect, microsLiteral, type CompareColumn, type Dialect } from './canonical-sql.ts'
import { alignedIntegerSplit, integerSplit, rangePredicate, segmentExpr, segmentRange, type KeyExpr, type KeyRange, type KeySplit } from './key-segments.ts'
import { integerSegments, orderedSourceSql, orderedWarehouseSql, partition, segmentsPredicate, type OrderedParts } from './ordered-segments.ts'
import type { ReconcileSettings } from './reconcile-config.ts'
import type { ReconcileSource, TextRow } from './reconcile-source.ts'
import { carryForward } from './segment-carry.ts'
import type { CutoffKey, SegmentCache } from './segment-cache.ts'
import type { DifferingRow, DifferingSegment, TableCounts } from './reconcile-result.ts'

/** Rows newer than this are not compared (they may not have reached the warehouse yet). */
export type Cutoff =
  | { kind: 'micros'; column: CompareColumn; value: bigint }
  | { kind: 'integer'; column: CompareColumn; value: bigint }
  | { kind: 'date'; column: CompareColumn; value: string }

/** What a comparison reads from the source (a warehouse-only pass reads nothing: see `warehouseOnly`). */
export type CompareSource = Pick<ReconcileSource, 'dialect' | 'kind' | 'relation' | 'query' | 'leadsAnIndex' | 'connections'>

export interface TableCompareInput {
  source: CompareSource
  /** The snapshot, opened read-only. */
  warehouse: Database
  sourceTable: string
  /** The current-state relation in the snapshot, e.g. `"shop"."orders"`. */
  warehouseRelation: string
  /** Extra predicate on the warehouse side (soft-deleted rows), DuckDB SQL. */
  warehouseWhere?: string
  /** The export's own `where` on the source, in the source's dialect. */
  sourceWhere?: string
  key: CompareColumn[]
  columns: CompareColumn[]
  cutoff?: Cutoff
  /** The warehouse side's first-pass checksums of earlier runs over the same table files. */
  warehouseCache?: SegmentCache
  settings: ReconcileSettings
  signal?: AbortSignal
  logger: Logger
  /** The checksum form, when known without asking the source (whether the key leads a b-tree index of it). */
  ordered?: boolean
  /**
   * Only the warehouse side's first pass, kept in `warehouseCache` for a later comparison (the precompute after a
   * publish): the source is not read, no key is excluded as too new, nothing is compared.
   */
  warehouseOnly?: boolean
}

export interface TableCompareOutcome {
  counts: TableCounts
  segments: DifferingSegment[]
  /** Segments that differ but could not be narrowed to rows within the fetch budget. */
  unresolvedSegments: number
  missing: DifferingRow[]
  extra: DifferingRow[]
  different: DifferingRow[]
  missingCount: number
  extraCount: number
  differentCount: number
  warehouseRowsFetched: number
  /** Keys of too-new source rows left out on the warehouse side (undefined: none looked up, or too many). */
  tooNewKeysExcluded?: number
  /** The warehouse's first-pass segments carried forward from kept ones and computed (aligned integer splits). */
  warehouseSegments?: { carried: number; computed: number }
}

interface SegmentAgg {
  n: bigint
  t: bigint
  s: string
}

interface Side {
  dialect: Dialect
  relation: string
  where: string
  run(sql: string, kind: 'aggregate' | 'rows' | 'keys', connection?: number): Promise<TextRow[]>
}

/**
 * Compares one table: totals and segment checksums in one aggregate pass per side (only aggregates cross the
 * network), then only the differing segments, narrowed by key range until each is small enough to fetch, and
 * the rows of those compared by key and column.
 */
export async function compareTable(input: TableCompareInput): Promise<TableCompareOutcome> {
  const { source, settings } = input
  const timed = async (side: string, kind: string, work: () => Promise<TextRow[]>, sql: string): Promise<TextRow[]> => {
    const started = performance.now()
    const rows = await work()
    input.logger.debug({ table: input.sourceTable, side, kind, rows: rows.length, ms: Math.round(performance.now() - started), sql }, 'reconcile statement')
    return rows
  }
  // Without a key only the totals can be compared: one segment, never narrowed.
  const first = input.key[0]
  const keyless = first === undefined
  const integerKey = first !== undefined && /^(TINYINT|SMALLINT|INTEGER|BIGINT|UTINYINT|USMALLINT|UINTEGER)$/.test(first.duckType) && !first.warehouseType
  const key: KeyExpr = {
    integer: integerKey,
    raw: (d) => d.ident(first!.name),
    text: (d) => d.canonical(first!, d.ident(first!.name)),
  }
  const src: Side = {
    dialect: source.dialect,
    relation: source.relation(input.sourceTable),
    where: input.sourceWhere ? `(${input.sourceWhere})` : 'true',
    run: (sql, kind, connection = 0) => timed('source', kind, () => source.query(sql, `reconciling ${input.sourceTable}`, kind, [], connection), sql),
  }
  const wh: Side = {
    dialect: duckdbDialect(source.kind),
    relation: input.warehouseRelation,
    where: input.warehouseWhere ? `(${input.warehouseWhere})` : 'true',
    run: (sql, kind) => timed('warehouse', kind, async () => (await input.warehouse.queryJson(sql)).rows as TextRow[], sql),
  }
  // The warehouse filter before too-new keys are excluded: the kept segments' statement shape.
  const whereBase = wh.where
  let excludedKeys: string[] = []
  // On the cursor column itself, so the source can answer it from the cursor's index.
  const tooNew = (d: Dialect): string => {
    const c = input.cutoff
    if (!c) return 'false'
    const q = d.ident(c.column.name)
    const zoned = c.column.duckType === 'TIMESTAMPTZ'
    if (c.kind === 'integer') return `(${q} > ${c.value.toString()})`
    if (c.kind === 'date') return d.name === 'duckdb' ? `(${q} > DATE ${d.literal(c.value)})` : d.name === 'postgres' ? `(${q} > ${d.literal(c.value)}::date)` : `(${q} > ${d.literal(c.value)})`
    if (d.name === 'duckdb') return `(epoch_us(${q}) > ${c.value.toString()})`
    // A literal when it can be written exactly: timestamptz + interval is only stable, so PostgreSQL would compute
    // it for every row of the first pass (measured 7 % of the pass's time).
    if (d.name === 'postgres') return `(${q} > ${microsLiteral(c.value, zoned) ?? `('epoch'::${zoned ? 'timestamptz' : 'timestamp'} + interval '1 microsecond' * ${c.value.toString()})`})`
    return `(${q} > TIMESTAMPADD(MICROSECOND, ${c.value.toString()}, '1970-01-01 00:00:00'))`
  }
  const rowHash = (d: Dialect): string => d.hash60(d.rowText(input.columns, (n) => d.ident(n)))

  // Per-segment md5 in key order (ordered-segments.ts) where the source reads each segment from the key's index.
  const ordered = !keyless && integerKey && input.key.length === 1 && (input.ordered ?? (await source.leadsAnIndex(input.sourceTable, first.name)))
  // Rows per segment are at most its key span (one integer key): this bounds the text each md5 is taken over.
  const orderedSplit = (split: KeySplit): boolean => ordered && split.step !== undefined && split.step <= BigInt(2 * settings.segmentRows)
  const orderedParts = (side: Side): OrderedParts => {
    const d = side.dialect
    return { key: key.raw(d), relation: side.relation, where: side.where, rowText: d.rowText(input.columns, (n) => d.ident(n)), newer: tooNew(d) }
  }
  const toAggs = (rows: TextRow[]): Map<number, SegmentAgg> => new Map(rows.map((r) => [Number(r.seg), { n: BigInt(r.n ?? '0'), t: BigInt(r.t ?? '0'), s: String(r.s ?? '0') }]))

  /** The warehouse side's aggregate statement over the keys matching `predicate`. */
  const warehouseSql = (split: KeySplit, predicate: string): string =>
    orderedSplit(split) ? orderedWarehouseSql(orderedParts(wh), segmentExpr(wh.dialect, key, split), predicate) : sumSql(wh, split, predicate)
  const sumSql = (side: Side, split: KeySplit, predicate: string): string => {
    const d = side.dialect
    const newer = tooNew(d)
    return `SELECT ${d.toText('seg')} AS seg, ${d.sumText('1 - tn')} AS n, ${d.sumText('tn')} AS t, ${d.sumText('h')} AS s FROM (
      SELECT ${segmentExpr(d, key, split)} AS seg, CASE WHEN ${newer} THEN 1 ELSE 0 END AS tn, CASE WHEN ${newer} THEN 0 ELSE ${rowHash(d)} END AS h
      FROM ${side.relation} WHERE ${side.where} AND ${predicate}) x GROUP BY seg`
  }
  // Aligned integer splits of the whole key range: kept per segment, untouched segments carried forward.
  const carried = async (split: KeySplit, cache: SegmentCache): Promise<TextRow[]> => {
    const d = wh.dialect
    const c = input.cutoff
    const cutoff: CutoffKey | undefined = c ? { column: c.column.name, kind: c.kind, value: c.value.toString() } : undefined
    const shape = JSON.stringify({ form: orderedSplit(split) ? 'ordered' : 'sum', relation: wh.relation, where: whereBase, key: key.raw(d),
      row: d.rowText(input.columns, (n) => d.ident(n)), cutoff: cutoff ? [cutoff.column, cutoff.kind] : null })
    const kept = await carryForward({
      cache, shape, segments: integerSegments(whole, split), ...(cutoff ? { cutoff } : {}), excludedKeys, keyColumns: input.key.map((k) => k.name),
      segmentsOf: async (relation) => new Set((await wh.run(`SELECT DISTINCT ${segmentExpr(d, key, split)} AS seg FROM (${relation}) x`, 'keys')).map((r) => Number(r.seg))),
      compute: (only) => wh.run(warehouseSql(split, only ? segmentsPredicate(key.raw(d), only) : 'true'), 'aggregate'),
    })
    input.logger.debug({ table: input.sourceTable, carried: kept.carried, computed: kept.computed, reason: kept.reason }, 'reconcile warehouse segments')
    outcome.warehouseSegments = { carried: kept.carried, computed: kept.computed }
    return kept.rows
  }

  const aggregate = async (side: Side, range: KeyRange, split: KeySplit, cache?: SegmentCache): Promise<Map<number, SegmentAgg>> => {
    const d = side.dialect
    const run = async (sql: string): Promise<TextRow[]> => {
      const cached = cache && (await cache.get(sql))
      if (cached) return cached
      const rows = await side.run(sql, 'aggregate')
      await cache?.put(sql, rows)
      return rows
    }
    if (side === wh && cache && integerKey && split.step !== undefined && range.lo === undefined && range.hi === undefined) return toAggs(await carried(split, cache))
    if (side === wh) return toAggs(await run(warehouseSql(split, rangePredicate(d, key, range))))
    if (orderedSplit(split)) {
      const segments = integerSegments(range, split)
      // The first pass is split between connections reading the same snapshot: the source's cores share it.
      const connections = segments.length >= 64 ? await source.connections(settings.sourceConnections) : 1
      const parts = partition(segments, connections)
      const results = await Promise.all(parts.map((part, i) => side.run(orderedSourceSql(orderedParts(side), part), 'aggregate', i)))
      return toAggs(results.flat())
    }
    return toAggs(await run(sumSql(side, split, rangePredicate(d, key, range))))
  }

  const counts: TableCounts = { sourceRows: 0, warehouseRows: 0, comparedRows: 0, tooNewRows: 0 }
  const outcome: TableCompareOutcome = {
    counts, segments: [], unresolvedSegments: 0, missing: [], extra: [], different: [],
    missingCount: 0, extraCount: 0, differentCount: 0, warehouseRowsFetched: 0,
  }
  let fetchBudget = settings.maxFetchRows

  // Rows changed at the source after the compare point are left out on both sides: their keys (only keys, from
  // the cursor's index) are excluded in the warehouse too, where the older version of such a row still is.
  if (input.cutoff && !keyless && !input.warehouseOnly) await excludeTooNewKeys()

  // The first split: integer keys by equal value steps over the warehouse's key range; others by quantiles.
  const whole: KeyRange = {}
  const firstSplit = await topSplit()
  // Keys excluded as too new live in a temp table the statement does not show: no whole-statement cache then
  // (kept segments record which excluded keys they hold).
  const cache = !outcome.tooNewKeysExcluded || (integerKey && firstSplit.step !== undefined) ? input.warehouseCache : undefined
  if (input.warehouseOnly) {
    for (const a of (await aggregate(wh, whole, firstSplit, cache)).values()) counts.warehouseRows += Number(a.n + a.t)
    return outcome
  }
  const [s0, w0] = await Promise.all([aggregate(src, whole, firstSplit), aggregate(wh, whole, firstSplit, cache)])
  for (const a of s0.values()) {
    counts.sourceRows += Number(a.n + a.t)
    counts.tooNewRows += Number(a.t)
  }
  for (const a of w0.values()) counts.warehouseRows += Number(a.n + a.t)
  counts.comparedRows = counts.sourceRows - counts.tooNewRows
  await visit(whole, firstSplit, s0, w0, 0)
  return outcome

  async function excludeTooNewKeys(): Promise<void> {
    const keyText = (d: Dialect): string => d.rowText(input.key, (n) => d.ident(n))
    const limit = settings.maxTooNewKeys
    const rows = await src.run(`SELECT ${keyText(src.dialect)} AS k FROM ${src.relation} WHERE ${src.where} AND ${tooNew(src.dialect)} LIMIT ${limit + 1}`, 'keys')
    // Too many to hold: the differing segments are narrowed instead, rows changed since being skipped there.
    if (rows.length > limit) return
    outcome.tooNewKeysExcluded = rows.length
    if (rows.length === 0) return
    excludedKeys = rows.map((r) => String(r.k))
    await input.warehouse.run(`CREATE OR REPLACE TEMP TABLE _cp_too_new (k VARCHAR)`)
    for (let i = 0; i < rows.length; i += 10_000) {
      const chunk = JSON.stringify(rows.slice(i, i + 10_000).map((r) => r.k))
      await input.warehouse.run(`INSERT INTO _cp_too_new SELECT unnest(from_json(?, '["VARCHAR"]'))`, [chunk])
    }
    wh.where = `${wh.where} AND ${keyText(wh.dialect)} NOT IN (SELECT k FROM _cp_too_new)`
  }

  async function topSplit(): Promise<KeySplit> {
    const segments = settings.segments
    if (keyless) return { bounds: [] }
    if (integerKey) {
      const [row] = await wh.run(`SELECT CAST(min(${key.raw(wh.dialect)}) AS VARCHAR) AS lo, CAST(max(${key.raw(wh.dialect)}) AS VARCHAR) AS hi, CAST(count(*) AS VARCHAR) AS n FROM ${wh.relation} WHERE ${whereBase}`, 'aggregate')
      if (!row?.lo || !row.hi) return { bounds: [] }
      const n = Number(row.n)
      // Aligned: the bounds stay put while the table grows, so kept segments stay comparable (and do not depend
      // on which keys are too new today).
      return alignedIntegerSplit(BigInt(row.lo), BigInt(row.hi) + 1n, Math.max(1, Math.min(segments, Math.ceil(n / settings.segmentRows))))
    }
    return textSplit(whole, segments)
  }

  async function textSplit(range: KeyRange, segments: number): Promise<KeySplit> {
    const d = wh.dialect
    const [row] = await wh.run(`SELECT CAST(count(*) AS VARCHAR) AS n FROM ${wh.relation} WHERE ${wh.where} AND ${rangePredicate(d, key, range)}`, 'aggregate')
    const n = Number(row?.n ?? 0)
    const parts = Math.max(1, Math.min(segments, Math.ceil(n / Math.max(1, settings.leafRows))))
    if (parts <= 1 || n === 0) return { bounds: [] }
    const fractions = Array.from({ length: parts - 1 }, (_, i) => ((i + 1) / parts).toFixed(6))
    const [q] = await wh.run(
      `SELECT CAST(to_json(quantile_disc(k, [${fractions.join(', ')}])) AS VARCHAR) AS b FROM (SELECT ${key.text(d)} AS k FROM ${wh.relation} WHERE ${wh.where} AND ${rangePredicate(d, key, range)}) x`,
      'aggregate',
    )
    const values = (JSON.parse(q?.b ?? '[]') as (string | null)[]).filter((v): v is string => v !== null)
    const inside = [...new Set(values)].filter((v) => (range.lo === undefined || v > range.lo) && (range.hi === undefined || v < range.hi))
    // Byte order, as every side compares them.
    inside.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    return { bounds: inside }
  }

  async function visit(range: KeyRange, split: KeySplit, s: Map<number, SegmentAgg>, w: Map<number, SegmentAgg>, depth: number): Promise<void> {
    for (let i = 0; i <= split.bounds.length; i++) {
      if (input.signal?.aborted) throw input.signal.reason
      const a = s.get(i) ?? { n: 0n, t: 0n, s: '0' }
      const b = w.get(i) ?? { n: 0n, t: 0n, s: '0' }
      if (a.n === b.n && a.s === b.s) continue
      const sub = segmentRange(range, split, i)
      await narrow(sub, a, b, depth + 1)
    }
  }

  async function narrow(range: KeyRange, a: SegmentAgg, b: SegmentAgg, depth: number): Promise<void> {
    const largest = Number(a.n + a.t > b.n + b.t ? a.n + a.t : b.n + b.t)
    if (keyless) {
      outcome.unresolvedSegments++
      record(range, a, b)
      return
    }
    if (largest <= settings.leafRows && largest * 2 <= fetchBudget) {
      await compareRows(range, a, b)
      return
    }
    // Narrowing costs statements on both sides: once no rows can be fetched any more, it would find nothing.
    if (fetchBudget < Math.min(largest, settings.leafRows) * 2) {
      outcome.unresolvedSegments++
      record(range, a, b)
      return
    }
    let split: KeySplit | undefined
    if (depth < settings.maxDepth) {
      if (integerKey) split = await integerSubSplit(range, largest)
      else {
        const t = await textSplit(range, settings.fanOut)
        if (t.bounds.length > 0) split = t
      }
    }
    if (!split) {
      // One value of the first key column (a composite key's leading part): its rows, if the budget allows.
      if (largest * 2 <= fetchBudget) return compareRows(range, a, b)
      outcome.unresolvedSegments++
      record(range, a, b)
      return
    }
    const [s, w] = await Promise.all([aggregate(src, range, split), aggregate(wh, range, split)])
    await visit(range, split, s, w, depth)
  }

  async function integerSubSplit(range: KeyRange, largest: number): Promise<KeySplit | undefined> {
    let lo = range.lo !== undefined ? BigInt(range.lo) : undefined
    let hi = range.hi !== undefined ? BigInt(range.hi) : undefined
    if (lo === undefined || hi === undefined) {
      // An open end (keys beyond the warehouse's range): both sides' extremes in it, from the key's index.
      const q = (side: Side): Promise<TextRow[]> => {
        const d = side.dialect
        const k = key.raw(d)
        return side.run(`SELECT ${d.toText(`min(${k})`)} AS lo, ${d.toText(`max(${k})`)} AS hi FROM ${side.relation} WHERE ${side.where} AND ${rangePredicate(d, key, range)}`, 'aggregate')
      }
      const [[x], [y]] = await Promise.all([q(src), q(wh)])
      const los = [x?.lo, y?.lo].filter((v): v is string => !!v).map(BigInt)
      const his = [x?.hi, y?.hi].filter((v): v is string => !!v).map(BigInt)
      if (los.length === 0) return undefined
      lo = los.reduce((m, v) => (v < m ? v : m))
      hi = his.reduce((m, v) => (v > m ? v : m)) + 1n
    }
    if (hi - lo <= 1n) return undefined
    const parts = Math.max(2, Math.min(settings.fanOut, Math.ceil(largest / Math.max(1, settings.leafRows / 2))))
    return integerSplit(lo, hi, parts)
  }

  function record(range: KeyRange, a: SegmentAgg, b: SegmentAgg): void {
    if (outcome.segments.length >= settings.maxReportedSegments) return
    outcome.segments.push({
      ...(range.lo !== undefined ? { from: range.lo } : {}),
      ...(range.hi !== undefined ? { to: range.hi } : {}),
      sourceRows: Number(a.n),
      warehouseRows: Number(b.n),
    })
  }

  async function compareRows(range: KeyRange, a: SegmentAgg, b: SegmentAgg): Promise<void> {
    const fetch = (side: Side): Promise<TextRow[]> => {
      const d = side.dialect
      const keys = input.key.map((k, i) => `${d.canonical(k, d.ident(k.name))} AS ${d.ident(`k${i}`)}`)
      const cols = input.columns.map((c, i) => `${d.canonical(c, d.ident(c.name))} AS ${d.ident(`c${i}`)}`)
      const newer = tooNew(d)
      return side.run(`SELECT ${[...keys, ...cols].join(', ')}, CASE WHEN ${newer} THEN 1 ELSE 0 END AS tn FROM ${side.relation} WHERE ${side.where} AND ${rangePredicate(d, key, range)}`, 'rows')
    }
    const [sRows, wRows] = await Promise.all([fetch(src), fetch(wh)])
    fetchBudget -= sRows.length + wRows.length
    outcome.warehouseRowsFetched += wRows.length
    const keyOf = (r: TextRow): string => JSON.stringify(input.key.map((_, i) => r[`k${i}`] ?? null))
    const keyObject = (r: TextRow): Record<string, string | null> => Object.fromEntries(input.key.map((k, i) => [k.name, r[`k${i}`] ?? null]))
    const wByKey = new Map(wRows.map((r) => [keyOf(r), r]))
    let found = 0
    for (const s of sRows) {
      const id = keyOf(s)
      const w = wByKey.get(id)
      wByKey.delete(id)
      // Changed at the source after the compare point: not compared, whatever the warehouse holds.
      if (String(s.tn) === '1' || (w && String(w.tn) === '1')) continue
      if (!w) {
        outcome.missingCount++
        found++
        if (outcome.missing.length < settings.maxReportedKeys) outcome.missing.push({ key: keyObject(s) })
        continue
      }
      const columns = input.columns.filter((_, i) => (s[`c${i}`] ?? null) !== (w[`c${i}`] ?? null)).map((c) => c.name)
      if (columns.length) {
        outcome.differentCount++
        found++
        if (outcome.different.length < settings.maxReportedKeys) outcome.different.push({ key: keyObject(s), columns })
      }
    }
    for (const w of wByKey.values()) {
      if (String(w.tn) === '1') continue
      outcome.extraCount++
      found++
      if (outcome.extra.length < settings.maxReportedKeys) outcome.extra.push({ key: keyObject(w) })
    }
    // Differing sums with no differing row: the segment changed between statements (cannot happen inside one
    // snapshot) or rows differ only in a too-new copy. Recorded only when rows were found.
    if (found > 0) record(range, a, b)
  }
}
