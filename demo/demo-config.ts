import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseConfig, type ColdpipeConfig } from '../cli/config/index.ts'
import { demoExports, demoModelsDir, demoReportsDir, type ShopService } from './shop/index.ts'
import { defaultShopTopics } from './simulator/shop-generator.ts'

/**
 * Personal data in the demo (docs/personal-data.md): phone numbers never land; a user can be erased with
 * `coldpipe erase user <users.id>`, which follows the user to their buyer, the buyer's orders (exported and
 * simulated), order lines, status history and order events. Emails and names stay readable, since the
 * top_buyers report shows them.
 */
export const demoPii = {
  keyEnv: 'COLDPIPE_PII_KEY',
  columns: [{ column: 'identity.users.phone_number', action: 'drop' }],
  subjects: {
    user: {
      keys: ['identity.users.id', 'ordering.buyers.user_id'],
      dependents: [
        { column: 'ordering.orders.buyer_id', references: 'ordering.buyers.id' },
        { column: 'ordering.orders_cdc.buyer_id', references: 'ordering.buyers.id' },
        { column: 'ordering.events.buyerId', references: 'ordering.buyers.id' },
        { column: 'ordering.order_items.order_id', references: 'ordering.orders.id' },
        { column: 'ordering.order_status_changes.order_id', references: 'ordering.orders.id' },
      ],
    },
  },
}

/**
 * The demo's masking key: made at the first start in `<dataDir>/pii-key` (the demo's data folder is wiped
 * and rebuilt at each start, lake included). A real deployment keeps its key in a secret store and hands it
 * over in the environment variable `pii.keyEnv` names; never beside the lake.
 */
export function demoPiiKey(dataDir: string): string {
  const file = join(dataDir, 'pii-key')
  if (existsSync(file)) return readFileSync(file, 'utf8').trim()
  mkdirSync(dataDir, { recursive: true })
  const key = randomBytes(32).toString('hex')
  writeFileSync(file, `${key}\n`, { mode: 0o600 })
  return key
}

/** Where the simulator's order changes land (read by the live report, awaited by the demo's first snapshot). */
export const demoOrderChangesTable = { service: 'ordering', table: 'orders_cdc' } as const

export interface DemoConfigInput {
  dataDir: string
  urls: Record<ShopService, string>
  brokers: string[]
  port: number
  host: string
}

/**
 * The demo's pipeline, written as the YAML a user would write (and validated by the same schema): the
 * three shop databases as Postgres sources, nightly exports, change topics from the simulator, a publish
 * every minute so simulated activity shows up while the demo runs.
 */
function demoConfigDocument(input: DemoConfigInput): Record<string, unknown> {
  return {
    lake: join(input.dataDir, 'lake'),
    warehouse: { path: join(input.dataDir, 'warehouse'), keepSnapshots: 10, keepForHours: 1 },
    sources: Object.fromEntries(Object.entries(input.urls).map(([service, url]) => [service, { kind: 'postgres', url, retryMaxAttempts: 2 }])),
    exports: demoExports.map((exp) => ({ ...exp, schedule: '0 2 * * *', timezone: 'UTC' })),
    changes: {
      brokers: input.brokers,
      groupId: 'coldpipe-demo',
      flushMaxAgeMs: 5_000,
      sessionTimeoutMs: 10_000,
      progressIntervalMs: 30_000,
      // The simulator stands in for Debezium; its rows are not in the shop databases, so they land in
      // tables of their own instead of being merged with the exported ones.
      topics: [
        { topic: defaultShopTopics.orders, format: 'debezium', ...demoOrderChangesTable, key: ['id'] },
        { topic: defaultShopTopics.catalogItems, format: 'debezium', service: 'catalog', table: 'catalog_items_cdc', key: ['id'] },
        { topic: defaultShopTopics.orderingEvents, format: 'integration-event', service: 'ordering', table: 'events' },
        { topic: defaultShopTopics.catalogEvents, format: 'integration-event', service: 'catalog', table: 'events' },
      ],
    },
    models: demoModelsDir,
    reports: demoReportsDir,
    pii: demoPii,
    api: { port: input.port, host: input.host },
    jobs: {
      catchUpOnStart: false,
      retryMaxAttempts: 1,
      publish: { schedule: '* * * * *', timezone: 'UTC' },
      compaction: { schedule: '*/15 * * * *', timezone: 'UTC' },
      retention: { schedule: '*/30 * * * *', timezone: 'UTC' },
    },
  }
}

/** The validated config and the document it came from (written beside the lake for `coldpipe -c … sql`). */
export function demoConfig(input: DemoConfigInput): { config: ColdpipeConfig; document: Record<string, unknown> } {
  const document = demoConfigDocument(input)
  const env = { [demoPii.keyEnv]: process.env[demoPii.keyEnv] || demoPiiKey(input.dataDir) }
  return { config: parseConfig(document, { origin: 'demo configuration', baseDir: input.dataDir, env }), document }
}
