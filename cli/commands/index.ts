import type { RegisterCommand } from '../command-context.ts'

/** A subcommand: what `--help` lists, and how to load the module that defines its options and action. */
export interface CommandEntry {
  usage: string
  description: string
  load: () => Promise<RegisterCommand>
}

/**
 * Every subcommand, in the order `--help` lists them. A command's module (and everything it imports: DuckDB,
 * kafkajs, fastify, database drivers) is loaded only when that command runs, so `coldpipe --help` and a
 * one-line `coldpipe sql -c` do not pay for the rest.
 */
export const commandEntries: CommandEntry[] = [
  {
    usage: 'demo',
    description: 'run the embedded demo: shop databases (PGlite), dev Kafka broker, exports, warehouse snapshot, change ingest and the reports API',
    load: async () => (await import('./demo-command.ts')).registerDemoCommand,
  },
  {
    usage: 'start',
    description: 'run the pipeline from the config: cron jobs (exports, publish, compaction, retention), change ingest when `changes` is set, and the reports API with /jobs',
    load: async () => (await import('./start-command.ts')).registerStartCommand,
  },
  {
    usage: 'export <source>',
    description: 'export tables of a source database into the lake (incremental by cursor, or full)',
    load: async () => (await import('./export-command.ts')).registerExportCommand,
  },
  {
    usage: 'ingest',
    description: 'consume Kafka change topics (Debezium envelopes, integration events) into the lake, exactly once, until stopped',
    load: async () => (await import('./ingest-command.ts')).registerIngestCommand,
  },
  {
    usage: 'publish',
    description: 'publish the next warehouse snapshot from lake commits since the last one',
    load: async () => (await import('./publish-command.ts')).registerPublishCommand,
  },
  {
    usage: 'serve',
    description: 'serve the reports API (named reports, ad-hoc SQL, web page) over the published warehouse snapshots',
    load: async () => (await import('./serve-command.ts')).registerServeCommand,
  },
  {
    usage: 'sql',
    description: 'query a published snapshot read-only and sandboxed: -c "sql" (statements run in order), or an interactive prompt (.help)',
    load: async () => (await import('./sql-command.ts')).registerSqlCommand,
  },
  {
    usage: 'reconcile [source[.table]]',
    description: 'compare warehouse tables with their source databases: counts and checksums by key range, then the rows that differ (missing, extra, changed)',
    load: async () => (await import('./reconcile-command.ts')).registerReconcileCommand,
  },
  {
    usage: 'jobs',
    description: 'scheduled jobs: list them, show their run history, run one now',
    load: async () => (await import('./jobs-command.ts')).registerJobsCommand,
  },
  {
    usage: 'status',
    description: 'show jobs and their last runs, data freshness per source, ingest lag, snapshot age and open circuit breakers',
    load: async () => (await import('./status-command.ts')).registerStatusCommand,
  },
  {
    usage: 'check',
    description: 'check the config against the real systems (sources, tables, keys, cursors, privileges, brokers, lake, warehouse, schedules); every problem at once, with its fix',
    load: async () => (await import('./check-command.ts')).registerCheckCommand,
  },
  {
    usage: 'init',
    description: 'write a starter config (to --config, default coldpipe.yaml) from a database: its tables, incremental where a primary key and an update-time column exist, full otherwise',
    load: async () => (await import('./init-command.ts')).registerInitCommand,
  },
  {
    usage: 'lake',
    description: 'the Parquet lake itself: its log settings',
    load: async () => (await import('./lake-command.ts')).registerLakeCommand,
  },
  {
    usage: 'pii',
    description: 'masking of personal data in the lake: status per table, rebuild after a changed rule or key',
    load: async () => (await import('./pii-command.ts')).registerPiiCommand,
  },
  {
    usage: 'erase <subject> [value]',
    description: 'erase a person from the lake, retained snapshots and cached results, keep them out of later landings, write a receipt (--list, --clear)',
    load: async () => (await import('./erase-command.ts')).registerEraseCommand,
  },
  {
    usage: 'dev-broker',
    description: 'run the Kafka-wire-protocol dev broker (for development and tests; production uses Apache Kafka)',
    load: async () => (await import('./dev-broker-command.ts')).registerDevBrokerCommand,
  },
]

export const commandName = (entry: CommandEntry): string => entry.usage.split(' ')[0]!
