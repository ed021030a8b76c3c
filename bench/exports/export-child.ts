// One coldpipe export in its own process, so its peak RSS is its own. Args: kind url schema lakeRoot table chunkRows
import { createExporter } from '../../ingest/export/index.ts'

const [kind, url, schema, lakeRoot, table, chunkRows] = process.argv.slice(2) as [string, string, string, string, string, string]
const exporter = createExporter({
  sources: { bench: { kind: kind as 'postgres' | 'mysql', url, ...(schema !== '-' ? { schema } : {}) } },
  lakeRoot,
  duckdb: { memoryLimit: '256MB', threads: 2 },
})
const started = performance.now()
const [record] = await exporter.runExport({ source: 'bench', timezone: 'UTC', tables: [{ name: table, mode: 'full', lagSeconds: 0, chunkRows: Number(chunkRows) }] })
const ms = performance.now() - started
await exporter.close()
process.stdout.write(`${JSON.stringify({ record, ms, maxRssKb: process.resourceUsage().maxRSS })}\n`)
