import { quoteLiteral } from '../../core/duckdb/index.ts'
import { unsupportedColumn, type SourceColumn } from './source-connector.ts'

/** A row of pg_attribute joined with pg_type, as pgAttributesSql reads it. */
export interface PgAttribute {
  name: string
  /** format_type(): `numeric(12,2)`, `timestamp with time zone`, `integer[]`. */
  formatted: string
  typname: string
  /** 'b' base, 'e' enum, 'd' domain, ... */
  typtype: string
  /** For arrays: the element type's name and typtype; null otherwise. */
  elemTypname: string | null
  elemTyptype: string | null
  typmod: number
  /** For domains: the base type's name. */
  baseTypname: string | null
  /** pg_type.typcategory: D date/time, N numeric, A array, … */
  category: string
  /** attnotnull: the column is declared NOT NULL. */
  notnull: boolean
}

/**
 * The columns of relation `$1` (an oid) as PgAttribute rows, in order; read by the export, reconciliation and
 * `coldpipe check` alike. A domain's typmod is its own (`numeric(10,2)`), not the column's (-1).
 */
export const pgAttributesSql = `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS formatted, t.typname, t.typtype,
       et.typname AS "elemTypname", et.typtype AS "elemTyptype", CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END AS typmod,
       bt.typname AS "baseTypname", t.typcategory AS category, a.attnotnull AS notnull
  FROM pg_attribute a
  JOIN pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'
  LEFT JOIN pg_type bt ON bt.oid = t.typbasetype AND t.typtype = 'd'
 WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`

const scalarTypes: Record<string, string> = {
  int2: 'SMALLINT',
  int4: 'INTEGER',
  int8: 'BIGINT',
  float4: 'REAL',
  float8: 'DOUBLE',
  bool: 'BOOLEAN',
  text: 'VARCHAR',
  varchar: 'VARCHAR',
  bpchar: 'VARCHAR',
  name: 'VARCHAR',
  citext: 'VARCHAR',
  date: 'DATE',
  timestamp: 'TIMESTAMP',
  timestamptz: 'TIMESTAMPTZ',
  time: 'TIME',
  uuid: 'UUID',
  json: 'JSON',
  jsonb: 'JSON',
  bytea: 'BLOB',
  // Documented fallbacks to text: no faithful DuckDB type, text keeps the value exact.
  timetz: 'VARCHAR',
  interval: 'VARCHAR',
  inet: 'VARCHAR',
  cidr: 'VARCHAR',
  macaddr: 'VARCHAR',
  xml: 'VARCHAR',
  money: 'VARCHAR',
  oid: 'BIGINT',
}

/** Text types whose own output is their text: `::text` would change nothing. */
const asStoredText = new Set(['text', 'varchar', 'name', 'citext'])

/** Largest precision Parquet/DuckDB DECIMAL holds; wider numerics fall back to VARCHAR (exact text). */
export const maxDecimalPrecision = 38

function numericType(typmod: number): string {
  if (typmod < 4) return 'VARCHAR' // unconstrained numeric: any precision, so exact text
  const precision = ((typmod - 4) >> 16) & 0xffff
  const scale = (typmod - 4) & 0xffff
  if (precision > maxDecimalPrecision || scale > precision) return 'VARCHAR'
  return `DECIMAL(${precision},${scale})`
}

/** Date and time types whose PostgreSQL text may end in ` BC` (years before 1 AD). */
const eraTypes = new Set(['date', 'timestamp', 'timestamptz'])

/**
 * DuckDB reading `ref` (PostgreSQL's text of a date or timestamp) as `duckType`, BC years included. PostgreSQL
 * ends such a value with ` BC` ("0044-03-15 12:00:00+00 BC"); DuckDB wants "(BC)" after the date. Read as
 * their own type by read_csv, a BC date silently became the same date AD and a BC timestamptz became NULL, so
 * these columns are read as text and cast here: CASE and cast cost what read_csv's own parsing did.
 */
function eraAwareCast(ref: string, duckType: string): string {
  return `CAST(CASE WHEN ends_with(${ref}, ' BC') THEN regexp_replace(${ref}, '^(\\d+-\\d\\d-\\d\\d)(.*) BC$', '\\1 (BC)\\2') ELSE ${ref} END AS ${duckType})`
}

function elementType(typname: string, typtype: string, typmod: number): string | undefined {
  if (typtype === 'e') return 'VARCHAR'
  if (typname === 'numeric') return numericType(typmod)
  if (typname === 'bytea' || typname === 'json' || typname === 'jsonb') return undefined
  return scalarTypes[typname]
}

/**
 * How one Postgres column is exported: the SELECT expression that renders it as exact CSV text (the session
 * runs with DateStyle ISO and TimeZone UTC), and the DuckDB expression that reads it back typed.
 */
export function mapPostgresColumn(table: string, attr: PgAttribute): SourceColumn {
  const q = `"${attr.name.replace(/"/g, '""')}"`
  const base = { name: attr.name, sourceType: attr.formatted }
  const unsupported = (): SourceColumn => unsupportedColumn(table, attr.name, attr.formatted)
  if (attr.elemTypname) {
    const element = elementType(attr.elemTypname, attr.elemTyptype ?? 'b', attr.typmod)
    if (!element) return unsupported()
    // Elements as JSON strings (null stays null), cast to the element type by DuckDB: exact for every
    // element type, including numerics that JSON numbers would round. One-dimensional arrays only: PostgreSQL
    // does not hold a column to its declared dimensions, and a text[] value of two (JSON `[[…`) would become a
    // list of JSON texts, so such a value fails the table by name.
    const convert = eraTypes.has(attr.elemTypname)
      ? `list_transform(CAST(CAST($col AS JSON) AS VARCHAR[]), e -> ${eraAwareCast('e', element)})`
      : `CAST(CAST(CAST($col AS JSON) AS VARCHAR[]) AS ${element}[])`
    const refusal = `table ${table}, column ${attr.name}: a multi-dimensional array value; only one-dimensional arrays export (leave the column out with columns:, or export a view that flattens it)`
    return {
      ...base,
      duckType: `${element}[]`,
      selectExpr: `array_to_json(${q}::text[])`,
      csvType: 'VARCHAR',
      convertExpr: `CASE WHEN starts_with($col, '[[') THEN error(${quoteLiteral(refusal)}) ELSE ${convert} END`,
    }
  }
  const typname = attr.typtype === 'd' && attr.baseTypname ? attr.baseTypname : attr.typname
  if (attr.typtype === 'e') return { ...base, duckType: 'VARCHAR', selectExpr: `${q}::text`, csvType: 'VARCHAR', convertExpr: '$col' }
  if (typname === 'numeric') {
    const duckType = numericType(attr.typmod)
    return { ...base, duckType, selectExpr: q, csvType: duckType, convertExpr: '$col' }
  }
  if (typname === 'bytea') {
    return { ...base, duckType: 'BLOB', selectExpr: `encode(${q}, 'hex')`, csvType: 'VARCHAR', convertExpr: 'unhex($col)' }
  }
  if (typname === 'bool') {
    return { ...base, duckType: 'BOOLEAN', selectExpr: `${q}::text`, csvType: 'BOOLEAN', convertExpr: '$col' }
  }
  if (typname === 'json' || typname === 'jsonb') {
    return { ...base, duckType: 'JSON', selectExpr: `${q}::text`, csvType: 'VARCHAR', convertExpr: 'CAST($col AS JSON)' }
  }
  const duckType = scalarTypes[typname]
  if (!duckType) return unsupported()
  if (eraTypes.has(typname)) return { ...base, duckType, selectExpr: q, csvType: 'VARCHAR', convertExpr: eraAwareCast('$col', duckType) }
  // Text types print as they are, so COPY can read them by name (pg-copy-statement.ts); the others mapped to
  // VARCHAR need the cast (bpchar::text drops trailing blanks, inet::text keeps a /32, ...).
  if (duckType === 'VARCHAR') return { ...base, duckType, selectExpr: asStoredText.has(typname) ? q : `${q}::text`, csvType: 'VARCHAR', convertExpr: '$col' }
  return { ...base, duckType, selectExpr: q, csvType: duckType, convertExpr: '$col' }
}
