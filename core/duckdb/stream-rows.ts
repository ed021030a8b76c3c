import type { DuckDBConnection, DuckDBValue, DuckDBValueConverter, Json } from '@duckdb/node-api'
import type { ColumnInfo } from './duckdb-database.ts'

/**
 * A query result read chunk by chunk (DuckDB's streaming result, about 2,048 rows a chunk): only the chunk
 * being encoded is in memory, and DuckDB computes the next one when it is asked for, so a consumer that
 * stops pulling stops the query from running ahead.
 */
export interface RowStream {
  columns: ColumnInfo[]
  /** Rows as arrays in column order, JSON-safe values (BIGINT and DECIMAL as exact strings, temporals as text). */
  chunks: AsyncIterable<unknown[][]>
}

export async function streamRowsJson(
  connection: DuckDBConnection,
  sql: string,
  values: DuckDBValue[] | Record<string, DuckDBValue> | undefined,
  converter: DuckDBValueConverter<Json>,
): Promise<RowStream> {
  const result = await connection.stream(sql, values)
  const names = result.columnNames()
  const types = result.columnTypes()
  return {
    columns: names.map((name, i) => ({ name, type: String(types[i]) })),
    chunks: result.yieldConvertedRows(converter) as AsyncIterable<unknown[][]>,
  }
}

/** Failures while reading chunks cross the Database boundary as coded errors too. */
export async function* wrapErrors<T>(source: AsyncIterable<T>, wrap: (error: unknown) => Error): AsyncGenerator<T> {
  try {
    for await (const item of source) yield item
  } catch (error) {
    throw wrap(error)
  }
}
