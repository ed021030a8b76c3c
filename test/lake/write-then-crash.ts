// A lake writer that dies (SIGKILL, no cleanup) at a chosen point: the crash tests run it as a real child process.
import { openDatabase } from '../../core/duckdb/index.ts'
import { CommitLog, writeParquetToLake } from '../../lake/index.ts'

const [lakeRoot, crashAt] = process.argv.slice(2) as [string, 'after-write' | 'never']
const log = await CommitLog.open(lakeRoot)
const db = await openDatabase(':memory:')
const path = log.layout.exportFile({ service: 'shop', table: 'orders', runId: 'run-1', part: 0 })
const written = await writeParquetToLake(db, log.layout, 'select range as id, range * 2 as total from range(1000)', path)
if (crashAt === 'after-write') process.kill(process.pid, 'SIGKILL')
await log.commit({
  kind: 'export',
  runId: 'run-1',
  idempotencyKey: 'export:run-1:shop.orders',
  add: [{ path, service: 'shop', table: 'orders', origin: 'export', rows: 1000, bytes: written.bytes, mode: 'full', runId: 'run-1' }],
})
db.close()
process.stdout.write('committed\n')
