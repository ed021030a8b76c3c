import { mkdir, readdir, rename, stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { openDatabase, quoteLiteral } from '../../core/duckdb/index.ts'
import { CommitLog, type LakeFile } from '../../lake/index.ts'
import { compact, publish } from '../../warehouse/index.ts'
import { maintenanceDefaults } from '../../warehouse/maintenance-config.ts'
import { query, setup } from './warehouse-setup.ts'

const topic = 'shop.public.orders'

/**
 * Lands `count` real change files of `rowsPerFile` rows each for ordering.orders, offsets following `firstFile`,
 * written in one DuckDB pass (PARTITION_BY) and committed `perCommit` files at a time.
 */
async function landSmallFiles(lakeRoot: string, firstFile: number, count: number, rowsPerFile = 3, perCommit = 500): Promise<void> {
  const log = await CommitLog.open(lakeRoot)
  const staging = join(lakeRoot, '_tmp', `gen-${firstFile}`)
  const db = await openDatabase(':memory:', { threads: 2 })
  try {
    await db.run(`COPY (
        SELECT (o % 997)::INTEGER AS id, o::BIGINT AS v, 'u' AS _cp_op, false AS _cp_deleted, lpad(o::VARCHAR, 20, '0') AS _cp_source_pos,
          o::BIGINT AS _cp_offset, 0::BIGINT AS _cp_ts_ms, ${quoteLiteral(topic)} AS _cp_topic, 0 AS _cp_partition, o // ${rowsPerFile} AS f
        FROM range(${firstFile * rowsPerFile}, ${(firstFile + count) * rowsPerFile}) t(o) ORDER BY o
      ) TO ${quoteLiteral(staging)} (FORMAT parquet, PARTITION_BY (f))`)
  } finally {
    db.close()
  }
  const files: LakeFile[] = []
  for (let f = firstFile; f < firstFile + count; f++) {
    const [name] = (await readdir(join(staging, `f=${f}`))).filter((n) => n.endsWith('.parquet'))
    const first = f * rowsPerFile
    const path = log.layout.changeFile({ service: 'ordering', table: 'orders', date: '2026-01-01', topic, partition: 0, firstOffset: String(first), lastOffset: String(first + rowsPerFile - 1) })
    await mkdir(dirname(log.layout.absolute(path)), { recursive: true })
    await rename(join(staging, `f=${f}`, name!), log.layout.absolute(path))
    files.push({ path, service: 'ordering', table: 'orders', origin: 'changes', rows: rowsPerFile, bytes: (await stat(log.layout.absolute(path))).size, key: ['id'], topic, partition: 0,
      firstOffset: String(first), lastOffset: String(first + rowsPerFile - 1) })
  }
  for (let i = 0; i < files.length; i += perCommit) {
    const batch = files.slice(i, i + perCommit)
    await log.commit({ kind: 'changes', runId: 'gen', add: batch, watermarks: [{ key: `kafka:${topic}:0`, service: 'ordering', table: 'orders', kind: 'kafka-offset', position: batch.at(-1)!.lastOffset!, asOf: new Date().toISOString() }] })
  }
}

async function activeOrders(lakeRoot: string): Promise<LakeFile[]> {
  const log = await CommitLog.open(lakeRoot)
  return [...log.activeFiles().values()].filter((f) => f.table === 'orders')
}

describe('compaction keeps active files per table bounded', () => {
  it('10,000 small files of one table end within the default bound, inputs per output bounded, nothing lost', { timeout: 600_000 }, async () => {
    const { lakeRoot, warehouse, store } = await setup()
    await landSmallFiles(lakeRoot, 0, 10_000)
    expect(await activeOrders(lakeRoot)).toHaveLength(10_000)
    const result = await compact({ lakeRoot, config: { memoryLimit: '256MB' } })
    const bound = maintenanceDefaults.compaction.maxActiveFilesPerTable
    expect(result.activeFiles['ordering.orders']).toBeLessThanOrEqual(bound)
    const active = await activeOrders(lakeRoot)
    expect(active.length).toBeLessThanOrEqual(bound)
    expect(active.reduce((sum, f) => sum + f.rows, 0)).toBe(30_000)
    // Each output read at most maxInputFilesPerOutput inputs (bounded open files and memory per write).
    const log = await CommitLog.open(lakeRoot)
    const lineage = (await log.readCommit(log.latestVersion))!.info!.compactedFrom as Record<string, string[]>
    for (const inputs of Object.values(lineage)) expect(inputs.length).toBeLessThanOrEqual(maintenanceDefaults.compaction.maxInputFilesPerOutput)
    // The warehouse sees every row once: 30,000 events over 997 keys, the newest version of each key.
    await publish({ lakeRoot, warehouse })
    expect(await query(store, 'SELECT count(*)::INT AS n, max(v)::INT AS v FROM ordering.orders__history')).toEqual([{ n: 30_000, v: 29_999 }])
    expect(await query(store, 'SELECT count(*)::INT AS n FROM ordering.orders')).toEqual([{ n: 997 }])
    expect(await query(store, 'SELECT v::INT AS v FROM ordering.orders WHERE id = 5')).toEqual([{ v: 29_915 }])
  })

  it('at the default settings, an hour of default flushes (360 files) between compactions stays within the default bound', { timeout: 600_000 }, async () => {
    const { lakeRoot } = await setup()
    let landed = 0
    for (let round = 0; round < 4; round++) {
      await landSmallFiles(lakeRoot, landed, 360, 5)
      landed += 360
      const result = await compact({ lakeRoot })
      expect(result.activeFiles['ordering.orders']).toBeLessThanOrEqual(maintenanceDefaults.compaction.maxActiveFilesPerTable)
      // Small outputs are merged again with the next hour's files: one small file per table at a time.
      expect(result.activeFiles['ordering.orders']).toBe(1)
      expect((await activeOrders(lakeRoot)).reduce((sum, f) => sum + f.rows, 0)).toBe(landed * 5)
    }
  })

  it('continuous ingest with compaction after each round: small outputs merge again, and the bound holds as history grows', { timeout: 600_000 }, async () => {
    const { lakeRoot } = await setup()
    // Tiny thresholds so outputs soon count as large and the bound (tier 2) has to merge them.
    const config = { smallFileBytes: 4096, targetFileBytes: 64 * 1024, minFiles: 4, maxActiveFilesPerTable: 6, maxInputFilesPerOutput: 100 }
    let landed = 0
    for (let round = 0; round < 12; round++) {
      await landSmallFiles(lakeRoot, landed, 60, 20)
      landed += 60
      const result = await compact({ lakeRoot, config })
      expect(result.activeFiles['ordering.orders']).toBeLessThanOrEqual(config.maxActiveFilesPerTable)
      const active = await activeOrders(lakeRoot)
      expect(active.length).toBeLessThanOrEqual(config.maxActiveFilesPerTable)
      expect(active.reduce((sum, f) => sum + f.rows, 0)).toBe(landed * 20)
    }
  })
})
