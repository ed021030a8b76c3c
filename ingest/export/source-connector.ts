/** CSV bytes that end on a row boundary, and how many rows they hold. */
export interface CsvBatch {
  data: Buffer
  rows: number
  /** Bytes of the batch's longest line (newline included): the CSV reader must be told about very long ones. */
  longestRowBytes: number
}

/** One column of a source table, with how it is read from the source and what it becomes in Parquet. */
export interface SourceColumn {
  name: string
  /** The source's own type name, e.g. `numeric(12,2)`, `timestamp with time zone`, `int(11)`. */
  sourceType: string
  /** The faithful DuckDB type of the exported column, e.g. `DECIMAL(12,2)`, `TIMESTAMPTZ`, `INTEGER[]`. */
  duckType: string
  /** Expression in the source's SELECT that renders the value as exact CSV text. */
  selectExpr: string
  /** Type of the CSV column as DuckDB's read_csv reads it. */
  csvType: string
  /** DuckDB expression turning the CSV column (`$col`, replaced by the quoted name) into `duckType`. */
  convertExpr: string
  /**
   * Why the column cannot be exported (a type with no faithful mapping). Such a column is described, not
   * refused, so a table exports with it left out (`columns:`); exporting it fails with EXPORT_TYPE_UNSUPPORTED.
   */
  unsupported?: string
}

/** A column of a type with no faithful export mapping: described, exported only if left out. */
export function unsupportedColumn(table: string, name: string, sourceType: string): SourceColumn {
  return {
    name,
    sourceType,
    duckType: 'VARCHAR',
    selectExpr: 'NULL',
    csvType: 'VARCHAR',
    convertExpr: '$col',
    unsupported: `table ${table}, column ${name}: type ${sourceType} has no faithful export mapping`,
  }
}

export interface SourceTable {
  name: string
  columns: SourceColumn[]
  /** The source's row estimate (pg_class.reltuples / information_schema.tables.table_rows), for progress. */
  estimatedRows: number
  /** A plain table (not a view or a partitioned table), which a source may read by name (pg-copy-statement.ts). */
  plainTable?: boolean
}

/**
 * Rows of one SELECT as CSV text (RFC 4180: NULL is an empty unquoted field, '' is `""`), in batches that
 * end on row boundaries. Errors of the read arrive through `batches`, coded and naming the table.
 */
export interface CsvStream {
  batches: AsyncIterable<CsvBatch>
  /**
   * Ends the read; a no-op once every row arrived. Before that (a failure, a stall, an abort) it drops the
   * connection, since a half-read statement would block every later one: the connector is then unusable
   * and the exporter replaces it. Never hangs, may be called any number of times.
   */
  close(): Promise<void>
}

/**
 * The small surface the exporter needs from a hot database. A connector holds one connection; all reads
 * between beginConsistentRead and close see the same snapshot.
 */
export interface SourceConnector {
  readonly kind: 'postgres' | 'mysql'
  listTables(): Promise<string[]>
  describeTable(table: string): Promise<SourceTable>
  /** Starts the read-only snapshot every later read sees; returns the time the snapshot began (ISO). */
  beginConsistentRead(): Promise<string>
  /** Streams `SELECT <cols> FROM <table> [WHERE ...]` as CSV; a batch ends after every `cutEveryRows` rows. */
  streamCsv(table: SourceTable, where: string | undefined, cutEveryRows: number): Promise<CsvStream>
  /** Quotes an identifier in the source's dialect. */
  quoteIdent(name: string): string
  /** A literal of `value` in the source's dialect. */
  quoteLiteral(value: string): string
  /**
   * Parallel reads (optional): predicates that split `table` into disjoint ranges of about `chunkRows` rows
   * (at least `minRanges` when the table is big enough), each read by its own streamCsv; undefined when the
   * table cannot be split (the read is then one stream).
   */
  splitRead?(table: SourceTable, chunkRows: number, minRanges: number): Promise<string[] | undefined>
  /** Another connection whose reads see this connection's snapshot (after beginConsistentRead); closed by the caller. */
  openSibling?(): Promise<SourceConnector>
  /** `col > watermark - lagSeconds` for a temporal cursor, in the source's dialect. */
  lagPredicate(quotedColumn: string, watermark: string, lagSeconds: number): string
  /**
   * HMAC-SHA256 (lower-case hex, NULL stays NULL) of the UTF-8 text of `selectExpr` (a column's selectExpr),
   * computed by the source, from the padded keys K⊕ipad and K⊕opad in hex: a hashed column's plaintext
   * never leaves the database (docs/personal-data.md).
   */
  hmacExpr(selectExpr: string, pads: { innerHex: string; outerHex: string }): string
  close(): Promise<void>
}
