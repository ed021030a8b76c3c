import { openDatabase } from '../../core/duckdb/index.ts'
import { CommitLog } from '../../lake/index.ts'
import { onTestFinished } from 'vitest'
import { createExporter, type Exporter, type ExporterOptions } from '../../ingest/export/index.ts'

/** An exporter closed when the test finishes. */
export function testExporter(options: ExporterOptions): Exporter {
  const exporter = createExporter(options)
  onTestFinished(() => exporter.close())
  return exporter
}

/** The rows of a table's active export files, read back through DuckDB, ordered by `orderBy`. */
export async function readExported(lakeRoot: string, service: string, table: string, orderBy: string): Promise<{ rows: Record<string, unknown>[]; columns: { name: string; type: string }[] }> {
  const log = await CommitLog.open(lakeRoot)
  const files = [...log.activeFiles().values()].filter((f) => f.service === service && f.table === table).map((f) => log.layout.absolute(f.path))
  const db = await openDatabase(':memory:')
  try {
    const list = `[${files.map((f) => `'${f}'`).join(', ')}]`
    const result = await db.queryJson(`SELECT * FROM read_parquet(${list}, union_by_name=true, hive_partitioning=false) ORDER BY ${orderBy}`)
    const declared = [...log.activeFiles().values()].find((f) => f.service === service && f.table === table)?.columns ?? []
    return { rows: result.rows, columns: declared }
  } finally {
    db.close()
  }
}
