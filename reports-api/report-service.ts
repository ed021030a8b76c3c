import { createHash } from 'node:crypto'
import { PassThrough, Writable } from 'node:stream'
import { quoteIdent, type ColumnInfo } from '../core/duckdb/index.ts'
import { ColdpipeError } from '../core/errors.ts'
import type { ApiConfig } from './api-config.ts'
import type { ApiMetrics } from './api-metrics.ts'
import { lagSecondsAt, oldestAsOf, reportSources, snapshotFreshness, type SourceFreshness } from './freshness.ts'
import type { QueryLimiter } from './query-limiter.ts'
import type { ReportCatalog } from './report-catalog.ts'
import type { ReportDefinition } from './report-definition.ts'
import { bindParams, type BoundParams } from './report-params.ts'
import { contentTypes, encodeCsv, encodeNdjson, negotiateFormat, streamFormats, type Format, type StreamFormat } from './result-formats.ts'
import { streamFailure, streamQuery } from './result-stream.ts'
import { RequestShapeMemo } from './request-shape-memo.ts'
import { StatementCache } from './statement-cache.ts'
import { StreamQuota } from './stream-quota.ts'
import type { CachedResult, ResultCache } from './result-cache.ts'
import type { SnapshotLease, SnapshotPool } from './snapshot-pool.ts'
import type { SnapshotManifest } from '../warehouse/snapshot-store.ts'
import { invalidReserved, parseBoolean, parseNonNegative, parsePaging, single, type Paging, type ReportReply, type ReportRequest, type StreamReply } from './report-request.ts'


interface EncodedResult {
  body: Buffer
  columns: ColumnInfo[]
  page: { limit: number; offset: number; returned: number; hasMore: boolean; total?: number }
}

/** A request's report and checked parameters, format, paging. */
interface Bound {
  definition: ReportDefinition
  params: BoundParams
  format: Format
  paging: Paging
  acceptStale: boolean
  /** The cache key without the snapshot id it follows. */
  keyTail: string
  /** The whole key for the snapshot last asked with (a Bound is shared by every request of its shape). */
  lastKey?: { snapshotId: number; key: string }
}

/** Where a bound request's answer is: its snapshot's freshness, cache key and ETag, or a 304. */
interface Located {
  manifest: SnapshotManifest
  view: SourcesView
  freshness: SourceFreshness[]
  /** The lags' signature (currentFreshness), `s` first when stale data is answered. */
  signature: string
  stale: boolean
  key: string
  etag: string
  notModified: ReportReply | undefined
}

/** A report's sources in one snapshot, and the headers that follow from them alone. */
interface SourcesView {
  sources: { entry: SourceFreshness; time: number }[]
  dataAsOf: string | undefined
  headers: Record<string, string>
  /** The freshness last worked out and its lags' signature: reused while every lag (whole seconds) is the same. */
  last?: { freshness: SourceFreshness[]; signature: string }
}

const closingBrace = Buffer.from('}')

function etagOf(key: string): string {
  return `W/"${createHash('sha256').update(key).digest('base64url').slice(0, 27)}"`
}

/** The sources' freshness now: what snapshotFreshness + reportSources answer, lags as of `now`. */
function freshnessAt(view: SourcesView, now: number): SourceFreshness[] {
  return view.sources.map(({ entry, time }) => ({ ...entry, lagSeconds: lagSecondsAt(time, now) }))
}

/**
 * freshnessAt with its lags' signature, the previous arrays (never mutated) when no lag has changed since: lags
 * move once a second, so a hit allocates nothing for them and compares the same signature string.
 */
function currentFreshness(view: SourcesView, now: number): { freshness: SourceFreshness[]; signature: string } {
  const last = view.last
  if (last) {
    let same = true
    for (let i = 0; i < view.sources.length && same; i++) same = last.freshness[i]!.lagSeconds === lagSecondsAt(view.sources[i]!.time, now)
    if (same) return last
  }
  const freshness = freshnessAt(view, now)
  let signature = ''
  for (const entry of freshness) signature += `,${entry.lagSeconds}`
  return (view.last = { freshness, signature })
}

/** Snapshot and freshness headers (a fresh object: callers add to it). */
function snapshotHeaders(view: SourcesView, stale: boolean): Record<string, string> {
  return stale ? { ...view.headers, 'x-coldpipe-stale': 'true' } : { ...view.headers }
}

/** Collects a small stream into one Buffer (a Parquet page is written by DuckDB, then answered whole). */
class BufferSink extends Writable {
  readonly parts: Buffer[] = []
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.parts.push(chunk)
    callback()
  }
}

/** Runs named reports: parameters, snapshot choice, freshness, cache and ETag, encoding. */
export class ReportService {
  private readonly inFlight = new Map<string, Promise<CachedResult>>()
  /** Concurrent streamed downloads per key and in all; shared with /sql streams (see result-stream.ts). */
  readonly streamQuota: StreamQuota
  /** Running streams' stop switches, so shutdown does not wait for a client that stopped reading. */
  private readonly activeStreams = new Set<AbortController>()
  /** Per snapshot manifest and report definition (both replaced, never mutated, when they change). */
  private readonly views = new WeakMap<SnapshotManifest, WeakMap<ReportDefinition, SourcesView>>()
  private readonly statements = new StatementCache()
  /**
   * Checked requests by raw query string, Accept and X-Coldpipe-Accept-Stale, per report definition: binding
   * parameters and building the cache key were a fifth of a cache hit's JavaScript.
   */
  private readonly bound = new RequestShapeMemo<ReportDefinition, Bound>(512)

  constructor(
    private readonly deps: {
      catalog: ReportCatalog
      pool: SnapshotPool
      limiter: QueryLimiter
      cache: ResultCache
      config: ApiConfig
      metrics: ApiMetrics
    },
  ) {
    this.streamQuota = new StreamQuota(deps.config.maxStreamsPerKey, deps.config.maxStreams)
  }

  private async pickSnapshot(query: Record<string, unknown>): Promise<SnapshotLease> {
    const asOfRaw = single(query, 'asOf')
    if (asOfRaw === undefined) return this.deps.pool.lease()
    const time = Date.parse(asOfRaw)
    if (Number.isNaN(time)) throw invalidReserved('asOf', 'an ISO 8601 time', asOfRaw)
    return this.deps.pool.lease(await this.deps.pool.resolveAsOf(new Date(time)))
  }

  /** What a request asks for, checked: the same for every snapshot. */
  private bind(request: ReportRequest, definition: ReportDefinition): Bound {
    if (request.rawQuery === undefined) return this.bindAnew(request, definition)
    const shape = `${request.rawQuery}\n${request.accept ?? ''}\n${request.acceptStaleHeader ?? ''}`
    return this.bound.get(definition, shape, () => this.bindAnew(request, definition))
  }

  private bindAnew(request: ReportRequest, definition: ReportDefinition): Bound {
    const params = bindParams(definition, request.query)
    const format = negotiateFormat(request.query.format, request.accept)
    const paging = parsePaging(definition, request.query, format, this.deps.config.maxRows)
    const acceptStale = parseBoolean(single(request.query, 'acceptStale')) || parseBoolean(request.acceptStaleHeader)
    const sort = paging.sort ? `${paging.sort.descending ? '-' : ''}${paging.sort.column}` : ''
    const keyTail = `${definition.name}|${definition.version}|${format}|${JSON.stringify(params.normalized)}|${paging.limit}|${paging.offset}|${sort}`
    return { definition, params, format, paging, acceptStale, keyTail }
  }

  /** Freshness (REPORT_STALE), cache key and ETag of a bound request in the leased snapshot; a 304 if the client has it. */
  private locate(request: ReportRequest, bound: Bound, lease: SnapshotLease): Located {
    const manifest = lease.manifest
    const view = this.sourcesView(manifest, bound.definition)
    const { freshness, signature: lags } = currentFreshness(view, Date.now())
    const stale = this.checkStale(bound.definition, manifest, freshness, bound.acceptStale)
    const signature = stale ? `s${lags}` : lags
    // The same string object request after request: a new one would be joined and hashed again for each lookup.
    const key = bound.lastKey?.snapshotId === manifest.id ? bound.lastKey.key : (bound.lastKey = { snapshotId: manifest.id, key: `${manifest.id}|${bound.keyTail}` }).key
    // A hit's ETag was hashed when it was computed: hashing the key again per request was a tenth of a hit's work.
    const etag = this.deps.cache.peek(key)?.memo?.etag ?? etagOf(key)
    const notModified =
      request.ifNoneMatch && request.ifNoneMatch.split(',').some((tag) => tag.trim() === etag || tag.trim() === '*')
        ? { status: 304 as const, headers: { ...snapshotHeaders(view, stale), etag, 'cache-control': 'private, no-cache' } }
        : undefined
    return { manifest, view, freshness, signature, stale, key, etag, notModified }
  }

  /**
   * A cache hit (or a 304) answered without awaiting anything: no promise or microtask turn per step, which
   * was most of a hit's CPU. Undefined when the answer needs `run` (a catalog or snapshot check is due, asOf,
   * or the result is not cached); errors are the ones `run` would throw, in the same order.
   */
  cachedReply(request: ReportRequest): ReportReply | undefined {
    const definition = this.deps.catalog.peek(request.name)
    if (!definition || request.query.asOf !== undefined) return undefined
    const bound = this.bind(request, definition)
    const lease = this.deps.pool.leaseCurrent()
    if (!lease) return undefined
    try {
      const located = this.locate(request, bound, lease)
      if (located.notModified) return located.notModified
      const result = this.deps.cache.get(located.key)
      if (!result) return undefined
      this.deps.metrics.cacheHits.inc({ report: definition.name })
      return this.answer(bound, located, result)
    } finally {
      lease.release()
    }
  }

  async run(request: ReportRequest): Promise<ReportReply> {
    const definition = await this.deps.catalog.get(request.name)
    const bound = this.bind(request, definition)
    const { params, format, paging } = bound
    const lease = await this.pickSnapshot(request.query)
    try {
      const located = this.locate(request, bound, lease)
      if (located.notModified) return located.notModified
      const { key, etag } = located
      let result = this.deps.cache.get(key)
      if (result) this.deps.metrics.cacheHits.inc({ report: definition.name })
      else {
        // Identical requests arriving together share one query instead of stampeding DuckDB.
        let pending = this.inFlight.get(key)
        if (!pending) {
          this.deps.metrics.cacheMisses.inc({ report: definition.name })
          pending = this.deps.limiter
            .run((deadline) => this.compute(lease, definition, params, paging, format, deadline))
            .then((computed) => {
              const fresh: CachedResult = {
                body: computed.body,
                contentType: contentTypes[format],
                meta: { columns: computed.columns, page: computed.page },
                memo: { etag },
              }
              if (this.deps.config.cacheMaxBytes > 0) this.deps.cache.set(key, fresh)
              return fresh
            })
            .finally(() => this.inFlight.delete(key))
          this.inFlight.set(key, pending)
        } else this.deps.metrics.cacheHits.inc({ report: definition.name })
        result = await pending
      }
      return this.answer(bound, located, result)
    } finally {
      lease.release()
    }
  }

  /**
   * The 200 for a result. Headers and the whole JSON body change only when a source's lag (whole seconds)
   * does: built once per second per entry, not per request, and the rows are never decoded and re-encoded.
   */
  private answer(bound: Bound, located: Located, result: CachedResult): ReportReply {
    const { definition, params, format } = bound
    const { manifest, view, freshness, signature, stale, etag } = located
    const memo = (result.memo ??= { etag })
    if (memo.signature !== signature || !memo.headers) {
      const headers: Record<string, string> = { ...snapshotHeaders(view, stale), etag, 'cache-control': 'private, no-cache', 'content-type': result.contentType }
      const page = result.meta.page as EncodedResult['page']
      if (page.returned >= 0) headers['x-coldpipe-rows'] = String(page.returned)
      if (format === 'csv' || format === 'parquet') headers['content-disposition'] = `attachment; filename="${definition.name}.${format}"`
      const body =
        format === 'json'
          ? Buffer.concat([
              Buffer.from(`${this.envelope(definition, manifest, view.dataAsOf, freshness, params, result.meta.columns as ColumnInfo[], page).slice(0, -1)},"rows":`),
              result.body,
              closingBrace,
            ])
          : result.body
      Object.assign(memo, { signature, headers, body })
    }
    return { status: 200, headers: memo.headers!, body: memo.body! }
  }

  /** The report's sources in this snapshot, without their lags (those depend on the time): once per snapshot and report version. */
  private sourcesView(manifest: SnapshotManifest, definition: ReportDefinition): SourcesView {
    let byDefinition = this.views.get(manifest)
    if (!byDefinition) this.views.set(manifest, (byDefinition = new WeakMap()))
    let view = byDefinition.get(definition)
    if (!view) {
      const sources = reportSources(snapshotFreshness(manifest), definition.sql, definition.sources)
      const dataAsOf = oldestAsOf(sources)
      const headers: Record<string, string> = {
        'x-coldpipe-snapshot': String(manifest.id),
        'x-coldpipe-snapshot-published-at': manifest.publishedAt,
        vary: 'Accept, X-Coldpipe-Accept-Stale',
      }
      if (dataAsOf) headers['x-coldpipe-data-as-of'] = dataAsOf
      view = { sources: sources.map((entry) => ({ entry, time: Date.parse(entry.asOf) })), dataAsOf, headers }
      byDefinition.set(definition, view)
    }
    return view
  }

  /** Throws REPORT_STALE when a source is staler than the report allows; true when stale data is answered anyway. */
  private checkStale(definition: ReportDefinition, manifest: SnapshotManifest, freshness: SourceFreshness[], acceptStale: boolean): boolean {
    if (definition.maxStalenessSeconds === undefined) return false
    const stale = freshness.filter((entry) => entry.lagSeconds > definition.maxStalenessSeconds!)
    if (stale.length > 0 && !acceptStale) {
      throw new ColdpipeError(
        'REPORT_STALE',
        `report ${definition.name} allows data at most ${definition.maxStalenessSeconds} s old, but ${stale.map((s) => `${s.source} is ${s.lagSeconds} s old`).join(', ')}; pass acceptStale=true (or header X-Coldpipe-Accept-Stale: true) to get it anyway`,
        { context: { report: definition.name, snapshot: manifest.id, maxStalenessSeconds: definition.maxStalenessSeconds, staleSources: stale } },
      )
    }
    return stale.length > 0
  }

  private envelope(
    definition: ReportDefinition,
    manifest: SnapshotManifest,
    dataAsOf: string | undefined,
    freshness: SourceFreshness[],
    params: BoundParams,
    columns: ColumnInfo[],
    page: EncodedResult['page'],
  ): string {
    return JSON.stringify({
      report: definition.name,
      title: definition.title,
      snapshot: { id: manifest.id, publishedAt: manifest.publishedAt },
      dataAsOf: dataAsOf ?? null,
      freshness,
      params: params.normalized,
      columns,
      page,
    })
  }

  private pagedSql(definition: ReportDefinition, paging: Pick<Paging, 'offset' | 'sort'> & { limit?: number }, extraRow: boolean): string {
    // Ties are broken by the whole row (`_report` is the row as a struct): DuckDB's sort is not stable, so pages
    // of a sort with ties would otherwise repeat some rows and skip others.
    const order = paging.sort ? ` ORDER BY ${quoteIdent(paging.sort.column)} ${paging.sort.descending ? 'DESC' : 'ASC'} NULLS LAST, _report` : ''
    // limit and offset are validated integers; the report's own parameters stay bound ($name).
    const limit = paging.limit === undefined ? '' : ` LIMIT ${paging.limit + (extraRow ? 1 : 0)}`
    const offset = paging.offset > 0 || paging.limit !== undefined ? ` OFFSET ${paging.offset}` : ''
    return `SELECT * FROM (\n${definition.sql}\n) AS _report${order}${limit}${offset}`
  }

  /**
   * The whole result (or `limit` rows, any number) streamed as CSV, NDJSON or Parquet. Validation, snapshot,
   * freshness and the stream quota are checked before this resolves, so they still answer with an error
   * status; after that a failure cuts the response, and success ends it with the row count (trailer).
   */
  async stream(request: ReportRequest, quotaKey: string): Promise<StreamReply> {
    const definition = await this.deps.catalog.get(request.name)
    const params = bindParams(definition, request.query)
    const format = this.streamFormat(request)
    const { offset, sort } = parsePaging(definition, { ...request.query, limit: undefined }, 'csv', this.deps.config.maxRows)
    const limit = parseNonNegative(request.query, 'limit', Number.MAX_SAFE_INTEGER)
    const acceptStale = parseBoolean(single(request.query, 'acceptStale')) || parseBoolean(request.acceptStaleHeader)
    const lease = await this.pickSnapshot(request.query)
    let releaseQuota: (() => void) | undefined
    try {
      const view = this.sourcesView(lease.manifest, definition)
      const headers = snapshotHeaders(view, this.checkStale(definition, lease.manifest, freshnessAt(view, Date.now()), acceptStale))
      releaseQuota = this.streamQuota.acquire(quotaKey)
      headers['content-type'] = contentTypes[format]
      headers['content-disposition'] = `attachment; filename="${definition.name}.${format}"`
      headers['cache-control'] = 'no-store'
      const sql = this.pagedSql(definition, { offset, ...(sort ? { sort } : {}), ...(limit === undefined ? {} : { limit }) }, false)
      const body = new PassThrough()
      const timeoutMs = this.deps.config.streamTimeoutMs
      const deadline = new AbortController()
      this.activeStreams.add(deadline)
      const timer = setTimeout(
        () => deadline.abort(new ColdpipeError('REPORT_TIMEOUT', `the streamed download ran longer than ${timeoutMs} ms (api.streamTimeoutMs) and was stopped`, { context: { timeoutMs } })),
        timeoutMs,
      )
      const stop = this.deps.metrics.reportQuerySeconds.startTimer({ report: definition.name })
      const quotaRelease = releaseQuota
      const rows = lease
        .query('streams', timeoutMs, 'REPORT_TIMEOUT', (db) => streamQuery(db, sql, params.sql, format, body, { signal: deadline.signal }))
        .then(
          (outcome) => {
            body.end()
            return outcome.rows
          },
          (error: unknown) => {
            body.destroy(error instanceof Error ? error : new Error(streamFailure(error)))
            throw error
          },
        )
        .finally(() => {
          this.activeStreams.delete(deadline)
          clearTimeout(timer)
          stop()
          quotaRelease()
          lease.release()
        })
      rows.catch(() => undefined)
      return { headers, body, rows }
    } catch (error) {
      releaseQuota?.()
      lease.release()
      throw error
    }
  }

  /** Stops every running stream (its response is cut, its query interrupted): for shutdown. */
  abortStreams(): void {
    for (const controller of this.activeStreams) controller.abort(new ColdpipeError('STREAM_ABORTED', 'the server is shutting down'))
  }

  /** `?format=` or Accept; JSON cannot be streamed, so a stream that only got JSON through a wildcard (a browser) is CSV. */
  private streamFormat(request: ReportRequest): StreamFormat {
    const askedJson = request.query.format !== undefined || /application\/json/i.test(request.accept ?? '')
    const negotiated = request.accept === undefined || request.accept.trim() === '' ? 'json' : negotiateFormat(request.query.format, request.accept)
    const format = request.query.format !== undefined ? negotiateFormat(request.query.format, request.accept) : negotiated === 'json' && !askedJson ? 'csv' : negotiated
    if (!(streamFormats as readonly string[]).includes(format)) {
      throw new ColdpipeError('REPORT_FORMAT_UNSUPPORTED', `stream=true sends the whole result as ${streamFormats.join(', ')}; JSON answers are pages of at most api.maxRows rows (use limit and offset)`, {
        context: { param: 'format', got: format, expected: streamFormats },
      })
    }
    return format as StreamFormat
  }

  private async compute(lease: SnapshotLease, definition: ReportDefinition, params: BoundParams, paging: Paging, format: Format, slotDeadline: number): Promise<EncodedResult> {
    const stop = this.deps.metrics.reportQuerySeconds.startTimer({ report: definition.name })
    try {
      return await lease.query('reports', this.deps.config.reportTimeoutMs, 'REPORT_TIMEOUT', async (db) => {
        if (format === 'parquet') {
          const sink = new BufferSink()
          await streamQuery(db, this.pagedSql(definition, paging, false), params.sql, 'parquet', sink)
          return { body: Buffer.concat(sink.parts), columns: [], page: { limit: paging.limit, offset: paging.offset, returned: -1, hasMore: false } }
        }
        const result = await this.statements.queryJson(db, this.pagedSql(definition, paging, true), params.sql)
        const hasMore = result.rows.length > paging.limit
        const rows = hasMore ? result.rows.slice(0, paging.limit) : result.rows
        const page = { limit: paging.limit, offset: paging.offset, returned: rows.length, hasMore, ...(hasMore ? {} : { total: paging.offset + rows.length }) }
        const names = result.columns.map((c) => c.name)
        const body = format === 'csv' ? encodeCsv(names, rows) : format === 'ndjson' ? encodeNdjson(rows) : Buffer.from(JSON.stringify(rows))
        return { body, columns: result.columns, page }
      }, slotDeadline)
    } finally {
      stop()
    }
  }
}
