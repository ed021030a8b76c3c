import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

export interface ApiMetrics {
  requests: Counter<'method' | 'route' | 'status'>
  requestSeconds: Histogram<'method' | 'route'>
  reportQuerySeconds: Histogram<'report'>
  cacheHits: Counter<'report'>
  cacheMisses: Counter<'report'>
  snapshotAgeSeconds: Gauge
  snapshotId: Gauge
  sourceLagSeconds: Gauge<'source'>
  staleTables: Gauge<'table'>
  queriesRunning: Gauge<'pool'>
  queriesQueued: Gauge<'pool'>
  shed: Counter<'pool'>
  sqlWorkers: Gauge<'state'>
  sqlWorkersKilled: Gauge<'reason'>
}

/** What /ready and /metrics show of the two query pools. */
export interface PoolStats {
  reports: { running: number; queued: number; shed: number; timedOutInQueue: number }
  sql: {
    running: number
    queued: number
    shed: number
    timedOutInQueue: number
    workers: { workers: number; idle: number; busy: number; starting: number; started: number; killed: number; killedForTimeout: number; killedForMemory: number; killedForAbort: number }
  }
}

/** Copies pool stats into the gauges just before a scrape. */
export function recordPoolStats(metrics: ApiMetrics, stats: PoolStats): void {
  for (const pool of ['reports', 'sql'] as const) {
    metrics.queriesRunning.set({ pool }, stats[pool].running)
    metrics.queriesQueued.set({ pool }, stats[pool].queued)
  }
  const workers = stats.sql.workers
  for (const state of ['idle', 'busy', 'starting'] as const) metrics.sqlWorkers.set({ state }, workers[state])
  metrics.sqlWorkersKilled.set({ reason: 'timeout' }, workers.killedForTimeout)
  metrics.sqlWorkersKilled.set({ reason: 'memory' }, workers.killedForMemory)
  metrics.sqlWorkersKilled.set({ reason: 'aborted' }, workers.killedForAbort)
}

export function createApiMetrics(registry: Registry): ApiMetrics {
  const registers = [registry]
  return {
    requests: new Counter({ name: 'coldpipe_api_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'], registers }),
    requestSeconds: new Histogram({
      name: 'coldpipe_api_request_duration_seconds',
      help: 'HTTP request latency by route',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    reportQuerySeconds: new Histogram({
      name: 'coldpipe_report_query_duration_seconds',
      help: 'Time spent in DuckDB per report (cache misses only)',
      labelNames: ['report'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    cacheHits: new Counter({ name: 'coldpipe_report_cache_hits_total', help: 'Report results served from the cache', labelNames: ['report'], registers }),
    cacheMisses: new Counter({ name: 'coldpipe_report_cache_misses_total', help: 'Report results computed', labelNames: ['report'], registers }),
    snapshotAgeSeconds: new Gauge({ name: 'coldpipe_snapshot_age_seconds', help: 'Seconds since the served snapshot was published', registers }),
    snapshotId: new Gauge({ name: 'coldpipe_snapshot_id', help: 'Id of the snapshot being served', registers }),
    sourceLagSeconds: new Gauge({ name: 'coldpipe_source_lag_seconds', help: 'Seconds between now and the as-of time of each source in the served snapshot', labelNames: ['source'], registers }),
    staleTables: new Gauge({ name: 'coldpipe_snapshot_stale_tables', help: 'Tables the served snapshot kept at an older state (1 each), e.g. after a quarantined lake file', labelNames: ['table'], registers }),
    queriesRunning: new Gauge({ name: 'coldpipe_api_queries_running', help: 'Queries running, per pool (reports, sql)', labelNames: ['pool'], registers }),
    queriesQueued: new Gauge({ name: 'coldpipe_api_queries_queued', help: 'Queries waiting for a slot, per pool (reports, sql)', labelNames: ['pool'], registers }),
    shed: new Counter({ name: 'coldpipe_api_shed_total', help: 'Requests refused with OVERLOADED, per pool', labelNames: ['pool'], registers }),
    sqlWorkers: new Gauge({ name: 'coldpipe_api_sql_workers', help: 'SQL worker processes by state (idle, busy, starting)', labelNames: ['state'], registers }),
    sqlWorkersKilled: new Gauge({ name: 'coldpipe_api_sql_workers_killed', help: 'SQL worker processes killed since start, by reason (timeout, memory, aborted)', labelNames: ['reason'], registers }),
  }
}
