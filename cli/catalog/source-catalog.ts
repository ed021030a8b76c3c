/** A column as the source's catalog describes it. */
export interface CatalogColumn {
  name: string
  /** The type as the database spells it (`timestamp with time zone`, `datetime(6)`, ...). */
  type: string
  /** What the type allows as an export cursor: an increasing time or number, or neither. */
  kind: 'time' | 'number' | 'other'
  /** Whether the column may hold NULL (a view's columns always may, as far as the catalog knows). */
  nullable: boolean
  /** Why the export cannot carry the column (a type with no faithful mapping); absent when it can. */
  unsupported?: string
}

export interface CatalogIndex {
  columns: string[]
  unique: boolean
  primary: boolean
}

/** A table of a source: its columns and indexes. */
export interface CatalogTable {
  name: string
  columns: CatalogColumn[]
  indexes: CatalogIndex[]
}

/**
 * Read-only questions about a source database's tables, asked by `coldpipe check` and `coldpipe init`.
 * One implementation per source kind; none of them changes anything in the database.
 */
export interface SourceCatalog {
  readonly kind: 'postgres' | 'mysql'
  /** The Postgres schema or MySQL database the tables are read from. */
  readonly namespace: string
  listTables(): Promise<string[]>
  /** The table, or undefined when it does not exist (or this user cannot see it). */
  describeTable(name: string): Promise<CatalogTable | undefined>
  /** Whether this user may SELECT from the table. */
  canSelect(name: string): Promise<boolean>
  close(): Promise<void>
}

/** The primary key's columns, in key order (empty when the table has none). */
export function primaryKeyOf(table: CatalogTable): string[] {
  return table.indexes.find((i) => i.primary)?.columns ?? []
}

/** Whether a primary key or unique index has exactly these columns (in any order). */
export function isUniqueKey(table: CatalogTable, columns: string[]): boolean {
  const wanted = [...columns].sort().join('\u0000')
  return table.indexes.some((i) => (i.unique || i.primary) && [...i.columns].sort().join('\u0000') === wanted)
}

/** Whether some index starts with this column, so `WHERE column > watermark ORDER BY column` need not scan the table. */
export function hasLeadingIndex(table: CatalogTable, column: string): boolean {
  return table.indexes.some((i) => i.columns[0] === column)
}
