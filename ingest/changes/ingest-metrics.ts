import { Counter, Gauge, type Registry } from 'prom-client'

/** Prometheus metrics of change ingest, registered on the caller's registry (never prom-client's global). */
export class IngestMetrics {
  readonly records: Counter<'topic' | 'outcome'>
  readonly deadLetters: Counter<'topic' | 'code'>
  readonly files: Counter<'topic'>
  readonly pauses: Counter<'reason'>
  readonly bufferedBytes: Gauge

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
    this.bufferedBytes = new Gauge({
      name: 'coldpipe_ingest_buffered_bytes',
      help: 'Bytes of Kafka records held in memory, buffered or being landed',
      registers: [registry],
    })
  }
}
