import { Counter, Gauge, type Registry } from 'prom-client'

/** Prometheus metrics of change ingest, registered on the caller's registry (never prom-client's global). */
export class IngestMetrics {
  readonly records: Counter<'topic' | 'outcome'>
  readonly deadLetters: Counter<'topic' | 'code'>
  readonly files: Counter<'topic'>
  readonly pauses: Counter<'reason'>
  readonly bufferedBytes: Gauge
  readonly landingFailures: Counter<'topic' | 'code'>
  readonly landingBlocked: Gauge
  readonly consumerRestarts: Counter
  readonly stoppedOnError: Counter<'code'>
  /** Newest landed data time per partition; the lag gauge is computed from it at scrape time, so it grows while a partition is quiet or stuck. */
  private readonly landedAsOf = new Map<string, { topic: string; partition: string; asOfMs: number }>()

  constructor(registry: Registry) {
    this.records = new Counter({
      name: 'coldpipe_ingest_records_total',
      help: 'Kafka records handled by change ingest, by outcome (landed, tombstone, dead_letter, replay_skipped)',
      labelNames: ['topic', 'outcome'],
      registers: [registry],
    })
    this.deadLetters = new Counter({
      name: 'coldpipe_ingest_dead_letters_total',
      help: 'Change events quarantined to the dead-letter area, by error code',
      labelNames: ['topic', 'code'],
      registers: [registry],
    })
    this.files = new Counter({
      name: 'coldpipe_ingest_files_total',
      help: 'Parquet files committed to the lake by change ingest',
      labelNames: ['topic'],
      registers: [registry],
    })
    this.pauses = new Counter({
      name: 'coldpipe_ingest_pauses_total',
      help: 'Times consumption paused because landing fell behind',
      labelNames: ['reason'],
      registers: [registry],
    })
    const landedAsOf = this.landedAsOf
    new Gauge({
      name: 'coldpipe_ingest_partition_lag_seconds',
      help: 'Seconds between now and the newest change landed in the lake, per topic partition',
      labelNames: ['topic', 'partition'],
      registers: [registry],
      collect() {
        const now = Date.now()
        for (const { topic, partition, asOfMs } of landedAsOf.values()) this.set({ topic, partition }, Math.max(0, (now - asOfMs) / 1000))
      },
    })
    this.bufferedBytes = new Gauge({
      name: 'coldpipe_ingest_buffered_bytes',
      help: 'Bytes of Kafka records held in memory, buffered or being landed',
      registers: [registry],
    })
    this.landingFailures = new Counter({
      name: 'coldpipe_ingest_landing_failures_total',
      help: 'Failed landing attempts (each is retried or ends ingest), by error code, e.g. LAKE_DISK_FULL',
      labelNames: ['topic', 'code'],
      registers: [registry],
    })
    this.landingBlocked = new Gauge({
      name: 'coldpipe_ingest_landing_blocked',
      help: 'Partitions whose landing is failing and being retried (consumption is paused while above 0)',
      registers: [registry],
    })
    this.consumerRestarts = new Counter({
      name: 'coldpipe_ingest_consumer_restarts_total',
      help: 'Times the Kafka consumer crashed on a retriable broker error and restarted itself',
      registers: [registry],
    })
    this.stoppedOnError = new Counter({
      name: 'coldpipe_ingest_stopped_on_error_total',
      help: 'Times change ingest stopped on an error it could not get past, by error code',
      labelNames: ['code'],
      registers: [registry],
    })
  }

  /** Records how current a partition's landed data is (the commit watermark's asOf). */
  landed(topic: string, partition: number, asOf: string): void {
    const asOfMs = Date.parse(asOf)
    if (Number.isFinite(asOfMs)) this.landedAsOf.set(`${topic}:${partition}`, { topic, partition: String(partition), asOfMs })
  }
}
