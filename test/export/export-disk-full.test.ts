import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CommitLog } from '../../lake/index.ts'
import { postgresSchema } from '../helpers/databases.ts'
import { smallDisk } from '../helpers/small-disk.ts'
import { testExporter } from './export-fixtures.ts'
import { committed, fullTable, scratchFiles } from './fault-fixtures.ts'

const payload = `md5(g::text) || md5((g + 1)::text) || md5((g + 2)::text)`

describe('export on a full lake disk', () => {
  // Large chunks fill the disk while the CSV chunk is written; small ones mostly while DuckDB writes Parquet;
  // with parallelism, three readers write chunks and Parquet at once when the disk fills.
  for (const [chunkRows, parallelism] of [[50_000, 1], [2_000, 1], [20_000, 3]] as const) {
    it(`fails the table with LAKE_DISK_FULL naming the path, keeps the previous state, and succeeds once space is freed (chunkRows ${chunkRows}, parallelism ${parallelism})`, async () => {
      const { client, schema, url } = await postgresSchema()
      await client.query(`CREATE TABLE ${schema}.t (id bigint PRIMARY KEY, payload text)`)
      await client.query(`INSERT INTO ${schema}.t SELECT g, ${payload} FROM generate_series(1, 20000) g`)
      const disk = await smallDisk(40)
      const lake = join(disk.dir, 'lake')
      const exporter = testExporter({ sources: { s: { kind: 'postgres', url, schema, maxConnections: parallelism } }, lakeRoot: lake })
      const config = { source: 's', timezone: 'UTC', tables: [{ ...fullTable('t', chunkRows), parallelism }] }
      expect((await exporter.runExport(config, { runId: 'before' }))[0]).toMatchObject({ status: 'committed', rows: 20_000 })
      const before = await committed(lake, 's', 't')
      const versionBefore = (await CommitLog.open(lake)).latestVersion

      // About 30 MB of CSV to write with 2 MB left on the volume.
      await client.query(`INSERT INTO ${schema}.t SELECT g, ${payload} FROM generate_series(20001, 300000) g`)
      await disk.fill(2_000_000)
      const [failed] = await exporter.runExport(config, { runId: 'full' })
      expect(failed, JSON.stringify(failed)).toMatchObject({ table: 't', status: 'failed', error: { code: 'LAKE_DISK_FULL', context: { source: 's', table: 't' } } })
      expect(String(failed?.error?.context.path)).toContain(lake)
      expect(failed?.error?.message).toContain(String(failed?.error?.context.path))
      expect(await scratchFiles(lake)).toEqual([])
      expect(await committed(lake, 's', 't')).toEqual(before)
      expect((await CommitLog.open(lake)).latestVersion).toBe(versionBefore)
      const parts = (await readdir(join(lake, 'raw', 'exports', 's', 't'), { recursive: true })).map(String)
      expect(parts.filter((p) => p.includes('run=full') && p.endsWith('.parquet'))).toEqual([])

      await disk.free()
      expect((await exporter.runExport(config, { runId: 'after' }))[0]).toMatchObject({ status: 'committed', rows: 300_000 })
      expect(await committed(lake, 's', 't')).toMatchObject({ rows: 300_000, runIds: new Set(['after']) })
      expect(await scratchFiles(lake)).toEqual([])
    })
  }
})
