import type { FastifyInstance } from 'fastify'
import type { ApiConfig } from './api-config.ts'
import type { SnapshotPool } from './snapshot-pool.ts'

export interface SchemaColumn {
  name: string
  type: string
}

export interface SchemaTable {
  name: string
  /** `BASE TABLE` or `VIEW`. */
  kind: string
  columns: SchemaColumn[]
}

export interface SnapshotSchema {
  snapshot: { id: number; publishedAt: string }
  schemas: { name: string; tables: SchemaTable[] }[]
}

// Internal catalogs of DuckDB and the merge's `_cp_state` relations are not what an analyst queries (as in
// `coldpipe sql`'s `.tables`); the snapshot's own schemas (coldpipe included) are.
const listing = `
  SELECT c.table_schema AS schema_name, c.table_name, t.table_type, c.column_name, c.data_type
  FROM information_schema.columns c
  JOIN information_schema.tables t USING (table_catalog, table_schema, table_name)
  WHERE c.table_catalog = current_database() AND c.table_schema NOT IN ('information_schema', 'pg_catalog', '_cp_state')
  ORDER BY c.table_schema, c.table_name, c.ordinal_position`

/** Groups the flat listing: schemas → tables → columns, in the snapshot's order. */
export function groupSchema(rows: Record<string, unknown>[]): SnapshotSchema['schemas'] {
  const schemas = new Map<string, Map<string, SchemaTable>>()
  for (const row of rows) {
    const schemaName = String(row.schema_name)
    const tableName = String(row.table_name)
    let tables = schemas.get(schemaName)
    if (!tables) schemas.set(schemaName, (tables = new Map()))
    let table = tables.get(tableName)
    if (!table) tables.set(tableName, (table = { name: tableName, kind: String(row.table_type), columns: [] }))
    table.columns.push({ name: String(row.column_name), type: String(row.data_type) })
  }
  return [...schemas.entries()].map(([name, tables]) => ({ name, tables: [...tables.values()] }))
}

/**
 * `GET /sql/schema`: the current snapshot's schemas, tables and columns with their types, for the SQL editor's
 * schema browser and completion. Only for keys that may run ad-hoc SQL: it is the same knowledge /sql gives.
 */
export function registerSchemaRoutes(app: FastifyInstance, deps: { pool: SnapshotPool; config: ApiConfig; sqlAllowed: (callerSql: boolean) => void }): void {
  app.get(
    '/sql/schema',
    { schema: { summary: "The current snapshot's schemas, tables and columns with types (needs an API key with sql: true)", tags: ['sql'] } },
    async (request): Promise<SnapshotSchema> => {
      deps.sqlAllowed(request.caller?.sql ?? false)
      const lease = await deps.pool.lease()
      try {
        const result = await lease.query('reports', deps.config.reportTimeoutMs, 'REPORT_TIMEOUT', (db) => db.queryJson(listing))
        return { snapshot: { id: lease.manifest.id, publishedAt: lease.manifest.publishedAt }, schemas: groupSchema(result.rows) }
      } finally {
        lease.release()
      }
    },
  )
}
