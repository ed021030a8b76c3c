import { maxDecimalPrecision } from './postgres-types.ts'
import { unsupportedColumn, type SourceColumn } from './source-connector.ts'

/** A row of information_schema.columns, as describeMysqlColumns reads it. */
export interface MysqlColumnInfo {
  name: string
  dataType: string
  columnType: string
  precision: number | null
  scale: number | null
  /** MariaDB's JSON is LONGTEXT with a json_valid() check. */
  isJson: boolean
  nullable: boolean
}

/** The columns of table `?` in schema `?`, in order. */
const mysqlColumnsSql = `SELECT COLUMN_NAME AS name, DATA_TYPE AS dataType, COLUMN_TYPE AS columnType, NUMERIC_PRECISION AS \`precision\`, NUMERIC_SCALE AS scale, IS_NULLABLE AS nullable
  FROM information_schema.columns WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`

/** The CHECK clauses of table `?` in schema `?` (MariaDB's JSON is a json_valid check). */
const mysqlCheckClausesSql = 'SELECT CHECK_CLAUSE AS clause FROM information_schema.check_constraints WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?'

/** A statement run the caller's way (its connection, its error coding), answering rows of plain objects. */
export type MysqlRowsQuery = (sql: string, params: unknown[]) => Promise<Record<string, unknown>[]>

/**
 * The columns of `schema`.`table` as the export, reconciliation and `coldpipe check` read them alike; empty when the
 * table has none (it does not exist, or this user cannot see it).
 */
export async function describeMysqlColumns(query: MysqlRowsQuery, schema: string, table: string): Promise<MysqlColumnInfo[]> {
  const rows = await query(mysqlColumnsSql, [schema, table])
  if (rows.length === 0) return []
  let clauses: unknown[] = []
  try {
    clauses = (await query(mysqlCheckClausesSql, [schema, table])).map((c) => c.clause)
  } catch {
    // MySQL before 8.0.16 has no check_constraints; its JSON type is reported as json anyway.
  }
  const jsonColumns = new Set(clauses.map((c) => /^json_valid\(`(.+)`\)$/i.exec(String(c ?? '').trim())?.[1]).filter((n): n is string => !!n))
  return rows.map((c) => ({
    name: String(c.name),
    dataType: String(c.dataType),
    columnType: String(c.columnType),
    precision: c.precision === null ? null : Number(c.precision),
    scale: c.scale === null ? null : Number(c.scale),
    isJson: jsonColumns.has(String(c.name)) || String(c.dataType).toLowerCase() === 'json',
    nullable: String(c.nullable) === 'YES',
  }))
}

function quote(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``
}

/**
 * How one MySQL/MariaDB column is exported. Values arrive as the text protocol's exact strings, copied
 * into the CSV byte for byte (mysql-row-csv.ts: DECIMAL, BIGINT and DATETIME as the server writes them; the
 * session runs with time_zone '+00:00'); a VARCHAR csvType is text, quoted when it needs to be. The CSV
 * writer, told the column types by the result's column definitions, writes a zero date (or one with a zero
 * month or day) as NULL and refuses a TIME outside a day, so DATE, TIMESTAMP and TIME stay read as such.
 */
export function mapMysqlColumn(table: string, info: MysqlColumnInfo): SourceColumn {
  const q = quote(info.name)
  const base = { name: info.name, sourceType: info.columnType }
  const plain = (duckType: string): SourceColumn => ({ ...base, duckType, selectExpr: q, csvType: duckType, convertExpr: '$col' })
  const unsigned = /unsigned/i.test(info.columnType)
  const t = info.dataType.toLowerCase()
  if (info.isJson) return { ...base, duckType: 'JSON', selectExpr: q, csvType: 'VARCHAR', convertExpr: 'CAST($col AS JSON)' }
  switch (t) {
    case 'tinyint':
      return plain(unsigned ? 'UTINYINT' : 'TINYINT')
    case 'smallint':
      return plain(unsigned ? 'USMALLINT' : 'SMALLINT')
    case 'mediumint':
    case 'int':
    case 'integer':
      return plain(unsigned ? 'UINTEGER' : 'INTEGER')
    case 'bigint':
      return plain(unsigned ? 'UBIGINT' : 'BIGINT')
    case 'year':
      return plain('SMALLINT')
    case 'decimal':
    case 'numeric': {
      const p = info.precision ?? 10
      const s = info.scale ?? 0
      return p <= maxDecimalPrecision ? plain(`DECIMAL(${p},${s})`) : plain('VARCHAR')
    }
    case 'float':
      // The text protocol prints a FLOAT with 6 significant digits (16777215 as 16777200); times 1e0 it is a
      // DOUBLE of the same value, printed in full, which DuckDB's REAL reads back to the very float. Multiplying
      // (not CAST … AS DOUBLE) works on every MySQL and MariaDB and keeps the sign of zero.
      return { ...plain('REAL'), selectExpr: `(${q} * 1e0)` }
    case 'double':
    case 'real':
      return plain('DOUBLE')
    case 'bit':
      return { ...base, duckType: 'UBIGINT', selectExpr: `${q} + 0`, csvType: 'UBIGINT', convertExpr: '$col' }
    case 'char':
    case 'varchar':
    case 'tinytext':
    case 'text':
    case 'mediumtext':
    case 'longtext':
    case 'enum':
    case 'set':
    case 'inet4':
    case 'inet6':
      return plain('VARCHAR')
    case 'json':
      return { ...base, duckType: 'JSON', selectExpr: q, csvType: 'VARCHAR', convertExpr: 'CAST($col AS JSON)' }
    case 'uuid':
      return plain('UUID')
    case 'date':
      return plain('DATE')
    case 'datetime':
      return plain('TIMESTAMP')
    case 'timestamp':
      return plain('TIMESTAMPTZ')
    case 'time':
      return plain('TIME')
    case 'binary':
    case 'varbinary':
    case 'tinyblob':
    case 'blob':
    case 'mediumblob':
    case 'longblob':
      return { ...base, duckType: 'BLOB', selectExpr: `HEX(${q})`, csvType: 'VARCHAR', convertExpr: 'unhex($col)' }
    default:
      return unsupportedColumn(table, info.name, info.columnType)
  }
}
