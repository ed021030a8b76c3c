import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { openDatabase } from '../../core/duckdb/index.ts'
import { CommitLog, type Watermark } from '../../lake/index.ts'
import { SnapshotStore } from '../../warehouse/snapshot-store.ts'
import { tempDir } from '../helpers/temp-dir.ts'

/**
 * A lake with export and Kafka watermarks for `ordering` and `catalog`, a published snapshot (a real DuckDB
 * file) reflecting older watermarks, and a coldpipe.yaml pointing at both. `now` is the status time.
 */
export async function statusWorld(now: Date): Promise<{ dir: string; lake: string; warehouse: string; configFile: string }> {
  const dir = await tempDir()
  const lake = join(dir, 'lake')
  const warehouse = join(dir, 'warehouse')
  const ago = (minutes: number): string => new Date(now.getTime() - minutes * 60_000).toISOString()
  const mark = (service: string, table: string, kind: Watermark['kind'], position: string, asOf: string): Watermark => ({
    key: kind === 'kafka-offset' ? `kafka:${service}.public.${table}:0` : `export:${service}.${table}`,
    service,
    table,
    kind,
    position,
    asOf,
  })
  const log = await CommitLog.open(lake)
  const older = [mark('ordering', 'orders', 'kafka-offset', '100', ago(90)), mark('catalog', 'catalog_items', 'export-full', '', ago(600))]
  await log.commit({ kind: 'changes', runId: 'r1', watermarks: older })
  await log.commit({ kind: 'changes', runId: 'r2', watermarks: [mark('ordering', 'orders', 'kafka-offset', '250', ago(5))] })
  await log.commit({ kind: 'export', runId: 'r3', watermarks: [mark('ordering', 'buyers', 'export-cursor', '2026-11-25 07:00:00', ago(30))] })

  const store = new SnapshotStore(warehouse)
  const build = await store.newBuildPath()
  const db = await openDatabase(build)
  await db.run('CREATE TABLE t AS SELECT 1 AS x')
  db.close()
  await store.publish(build, { id: 1, publishedAt: ago(45), lakeVersion: 0, watermarks: older, tables: [{ schema: 'ordering', name: 'orders', rows: 1 }] })

  const configFile = join(dir, 'coldpipe.yaml')
  await writeFile(
    configFile,
    [
      'lake: ./lake',
      'warehouse: ./warehouse',
      'sources:',
      '  ordering: { kind: postgres, url: "postgres://x@127.0.0.1:1/ordering" }',
      '  catalog: { kind: mysql, url: "mysql://x@127.0.0.1:1/catalog" }',
      '  identity: { kind: postgres, url: "postgres://x@127.0.0.1:1/identity" }',
      'exports:',
      '  - { source: ordering, schedule: "0 2 * * *", timezone: Europe/Berlin, tables: [{ name: orders }] }',
      '  - { source: catalog, schedule: "30 2 * * *", tables: [{ name: catalog_items }] }',
      'jobs:',
      '  publish: { schedule: "0 4 * * *" }',
      '',
    ].join('\n'),
  )
  return { dir, lake, warehouse, configFile }
}
