import mysql from 'mysql2/promise'
import { describeMysqlColumns, mapMysqlColumn } from '../../ingest/export/mysql-types.ts'
import type { CatalogColumn, CatalogIndex, CatalogTable, SourceCatalog } from './source-catalog.ts'

const timeTypes = new Set(['date', 'datetime', 'timestamp'])
const numberTypes = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint', 'decimal', 'numeric', 'float', 'double', 'year'])
const kindOf = (dataType: string): CatalogColumn['kind'] => (timeTypes.has(dataType) ? 'time' : numberTypes.has(dataType) ? 'number' : 'other')

/** MySQL/MariaDB catalog over information_schema (TABLES, COLUMNS, STATISTICS). */
export class MysqlCatalog implements SourceCatalog {
  readonly kind = 'mysql'
  private constructor(
    private readonly connection: mysql.Connection,
    readonly namespace: string,
  ) {}

  static async connect(url: string, options: { schema?: string; connectTimeoutMs?: number } = {}): Promise<MysqlCatalog> {
    const connection = await mysql.createConnection({ uri: url, connectTimeout: options.connectTimeoutMs ?? 10_000 })
    connection.on('error', () => undefined)
    try {
      const [rows] = await connection.query<mysql.RowDataPacket[]>('SELECT DATABASE() AS db')
      const namespace = options.schema ?? (rows[0]?.db as string | null) ?? undefined
      if (!namespace) throw new Error('the URL names no database and the source sets no schema')
      return new MysqlCatalog(connection, namespace)
    } catch (error) {
      connection.destroy()
      throw error
    }
  }

  private async rows(sql: string, params: unknown[]): Promise<mysql.RowDataPacket[]> {
    const [rows] = await this.connection.query<mysql.RowDataPacket[]>(sql, params)
    return rows
  }

  async listTables(): Promise<string[]> {
    const rows = await this.rows("SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1", [this.namespace])
    return rows.map((r) => String(r.name))
  }

  async describeTable(name: string): Promise<CatalogTable | undefined> {
    const tables = await this.rows('SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [this.namespace, name])
    if (tables.length === 0) return undefined
    const infos = await describeMysqlColumns((sql, params) => this.rows(sql, params), this.namespace, name)
    const stats = await this.rows(
      'SELECT INDEX_NAME AS indexName, NON_UNIQUE AS nonUnique, COLUMN_NAME AS columnName FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY INDEX_NAME, SEQ_IN_INDEX',
      [this.namespace, name],
    )
    const indexes = new Map<string, CatalogIndex>()
    for (const s of stats) {
      const indexName = String(s.indexName)
      const index = indexes.get(indexName) ?? { columns: [], unique: Number(s.nonUnique) === 0, primary: indexName === 'PRIMARY' }
      index.columns.push(String(s.columnName))
      indexes.set(indexName, index)
    }
    return {
      name,
      columns: infos.map((info) => {
        const unsupported = mapMysqlColumn(name, info).unsupported
        return { name: info.name, type: info.columnType, kind: kindOf(info.dataType.toLowerCase()), nullable: info.nullable, ...(unsupported ? { unsupported } : {}) }
      }),
      indexes: [...indexes.values()],
    }
  }

  /** A probing `SELECT … LIMIT 0`: SHOW GRANTS would miss privileges that come through roles or wildcards. */
  async canSelect(name: string): Promise<boolean> {
    try {
      await this.connection.query(`SELECT * FROM ${quote(this.namespace)}.${quote(name)} LIMIT 0`)
      return true
    } catch (error) {
      const code = (error as { code?: string }).code
      if (code === 'ER_TABLEACCESS_DENIED_ERROR' || code === 'ER_COLUMNACCESS_DENIED_ERROR' || code === 'ER_DBACCESS_DENIED_ERROR') return false
      throw error
    }
  }

  async close(): Promise<void> {
    await this.connection.end().catch(() => this.connection.destroy())
  }
}

const quote = (name: string): string => `\`${name.replace(/`/g, '``')}\``
