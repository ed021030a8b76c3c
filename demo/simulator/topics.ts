import type { ChangeTopicConfig } from '../../ingest/changes/changes-config.ts'

/** The demo's change topics: CDC envelopes of the two shop tables and the services' integration events. */
export const demoChangeTopics: ChangeTopicConfig[] = [
  { topic: 'ordering.public.orders', format: 'debezium', service: 'ordering', table: 'orders', key: ['id'] },
  { topic: 'catalog.public.catalog_items', format: 'debezium', service: 'catalog', table: 'catalog_items', key: ['id'] },
  { topic: 'ordering.events', format: 'integration-event', service: 'ordering', table: 'events' },
  { topic: 'catalog.events', format: 'integration-event', service: 'catalog', table: 'events' },
]
