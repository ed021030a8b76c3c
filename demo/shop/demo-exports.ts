import { Value } from '@sinclair/typebox/value'
import { ColdpipeError } from '../../core/errors.ts'
import { ExportConfigSchema, type ExportConfig } from '../../ingest/export/export-config.ts'

/** Five minutes behind the last watermark: rows whose transaction committed late with an older updated_at. */
const lagSeconds = 300

/**
 * What the demo exports from each shop database. Mutable tables with a timestamp go incremental, keyed by id;
 * small reference tables and tables without a trustworthy cursor go full. order_items has no updated_at, and an
 * id cursor would miss lines committed late with a smaller id (docs/exports.md), so it is copied whole.
 */
const definitions: unknown[] = [
  {
    source: 'catalog',
    tables: [
      { name: 'catalog_brands', mode: 'full' },
      { name: 'catalog_types', mode: 'full' },
      { name: 'catalog_items', mode: 'incremental', cursor: 'updated_at', key: ['id'], lagSeconds },
    ],
  },
  {
    source: 'ordering',
    tables: [
      { name: 'buyers', mode: 'full' },
      { name: 'orders', mode: 'incremental', cursor: 'updated_at', key: ['id'], lagSeconds },
      { name: 'order_items', mode: 'full' },
      { name: 'order_status_changes', mode: 'incremental', cursor: 'changed_at', key: ['id'], lagSeconds },
    ],
  },
  {
    source: 'identity',
    tables: [{ name: 'users', mode: 'full' }],
  },
]

/** Filled with the schema's defaults and checked, so callers get complete export configs. */
function complete(definition: unknown): ExportConfig {
  const value = Value.Default(ExportConfigSchema, structuredClone(definition))
  const error = Value.Errors(ExportConfigSchema, value).First()
  if (error) {
    throw new ColdpipeError('CONFIG_INVALID', `demo export ${JSON.stringify((definition as { source?: string }).source)}: ${error.path || '/'}: ${error.message}`, {
      context: { field: error.path },
    })
  }
  return value as ExportConfig
}

export const demoExports: ExportConfig[] = definitions.map(complete)
