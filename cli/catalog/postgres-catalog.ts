import pg from 'pg'
import { mapPostgresColumn, pgAttributesSql, type PgAttribute } from '../../ingest/export/postgres-types.ts'
import type { CatalogColumn, CatalogIndex, CatalogTable, SourceCatalog } from './source-catalog.ts'

/** pg_type.typcategory: D date/time, N numeric. */
const kindOf = (category: string): CatalogColumn['kind'] => (category === 'D' ? 'time' : category === 'N' ? 'number' : 'other')

/** Postgres catalog over pg_class/pg_attribute/pg_index, which (unlike information_schema) list tables this user cannot read. */
export class PostgresCatalog implements SourceCatalog {
  readonly kind = 'postgres'
  private constructor(
    private readonly client: pg.Client,
    readonly namespace: string,
  ) {}

  static async connect(url: string, options: { schema?: string; connectTimeoutMs?: number } = {}): Promise<PostgresCatalog> {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000 })
    client.on('error', () => undefined)
    try {
      await client.connect()
    } catch (error) {
      await client.end().catch(() => undefined)
      throw error
    }
    return new PostgresCatalog(client, options.schema ?? 'public')
  }

  async listTables(): Promise<string[]> {
    const result = await this.client.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1`,
      [this.namespace],
    )
    return result.rows.map((r) => r.name)
  }

  private async oidOf(name: string): Promise<number | undefined> {
    const result = await this.client.query<{ oid: number }>(
      `SELECT c.oid::int AS oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')`,
      [this.namespace, name],
    )
    return result.rows[0]?.oid
  }

  async describeTable(name: string): Promise<CatalogTable | undefined> {
    const oid = await this.oidOf(name)
    if (oid === undefined) return undefined
    const columns = await this.client.query<PgAttribute>(pgAttributesSql, [oid])
    const indexes = await this.client.query<{ columns: string[]; unique: boolean; primary: boolean }>(
      `SELECT i.indisunique AS unique, i.indisprimary AS primary,
              ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
                      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.ord) AS columns
         FROM pg_index i WHERE i.indrelid = $1 AND i.indisvalid`,
      [oid],
    )
    return {
      name,
      columns: columns.rows.map((c) => {
        const unsupported = mapPostgresColumn(name, c).unsupported
        return { name: c.name, type: c.formatted, kind: kindOf(c.category), nullable: !c.notnull, ...(unsupported ? { unsupported } : {}) }
      }),
      // Expression indexes have attnum 0, which joins no column: they show as shorter lists, never as a column they do not cover.
      indexes: indexes.rows.map((i): CatalogIndex => ({ columns: i.columns, unique: i.unique, primary: i.primary })),
    }
  }

  async canSelect(name: string): Promise<boolean> {
    const oid = await this.oidOf(name)
    if (oid === undefined) return false
    const result = await this.client.query<{ ok: boolean }>(`SELECT has_table_privilege($1::oid, 'SELECT') AS ok`, [oid])
    return result.rows[0]?.ok === true
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined)
  }
}
