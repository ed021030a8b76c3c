// Runs one export in a child process so a test can SIGKILL it mid-table. Args: url schema lakeRoot runId
import { createLogger } from '../../core/logger.ts'
import { createExporter } from '../../ingest/export/index.ts'

const [url, schema, lakeRoot, runId] = process.argv.slice(2) as [string, string, string, string]
const exporter = createExporter({ sources: { big: { kind: 'postgres', url, schema } }, lakeRoot, logger: createLogger({ level: 'debug', destination: process.stdout }) })
const records = await exporter.runExport({ source: 'big', timezone: 'UTC', tables: [{ name: 'rows', mode: 'full', lagSeconds: 0, chunkRows: 20_000 }] }, { runId })
await exporter.close()
process.stdout.write(`${JSON.stringify({ done: records })}\n`)
