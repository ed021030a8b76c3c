import { existsSync } from 'node:fs'
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CommitLog, writeDeadLetters } from '../../lake/index.ts'
import { applyRetention, compact, publish } from '../../warehouse/index.ts'
import { changeRowsSql, commitChanges, commitExport } from '../helpers/lake-fixtures.ts'
import { query, setup } from './warehouse-setup.ts'

const dayMs = 86_400_000

async function age(path: string, ms: number): Promise<void> {
  const at = new Date(Date.now() - ms)
  await utimes(path, at, at)
}

async function put(path: string, text = 'x'): Promise<string> {
  await mkdir(dirname(path), { recursive: true })
  await writeFile(path, text)
  return path
}

describe('retention covers every file set that grows', () => {
  it('replaced and compacted lake files after the grace period, orphans, temps, dead letters, quarantined copies and export run records past their age', { timeout: 300_000 }, async () => {
    const { lakeRoot, warehouse, store } = await setup()
    for (let run = 0; run < 3; run++) await commitExport(lakeRoot, { service: 'catalog', table: 'items', mode: 'full', parts: [`SELECT ${run} AS id`] })
    for (let b = 0; b < 3; b++) {
      await commitChanges(lakeRoot, { service: 'ordering', table: 'orders', key: ['id'], firstOffset: b, lastOffset: b, selectSql: changeRowsSql({ id: 'INTEGER' }, [{ values: { id: b }, op: 'c', sourcePos: b, offset: b }]) })
    }
    await compact({ lakeRoot, config: { minFiles: 2 } })
    await publish({ lakeRoot, warehouse })
    const log = await CommitLog.open(lakeRoot)
    const active = [...log.activeFiles().keys()]
    const orphan = await put(join(lakeRoot, 'raw/exports/catalog/items/run=crashed/part-00000.parquet'))
    const youngOrphan = await put(join(lakeRoot, 'raw/exports/catalog/items/run=running/part-00000.parquet'))
    const temp = await put(join(lakeRoot, '_tmp', 'stale.parquet'))
    const youngTemp = await put(join(lakeRoot, '_tmp', 'writing.parquet'))
    const letter = { reason: 'bad', code: 'INGEST_DECODE_FAILED', source: { topic: 't', partition: 0, offset: 1 }, payload: 'x', payloadEncoding: 'utf8' as const, at: new Date().toISOString() }
    const oldLetter = (await writeDeadLetters(log.layout, { service: 'ordering', table: 'orders', name: 'old' }, [letter]))!
    const newLetter = (await writeDeadLetters(log.layout, { service: 'ordering', table: 'orders', name: 'new' }, [letter]))!
    const quarantined = await put(log.layout.absolute(log.layout.quarantineFile('raw/changes/ordering/orders/broken.parquet')))
    const oldRun = await put(log.layout.exportRunFile('run-old', 'catalog', 'items'))
    const newRun = await put(log.layout.exportRunFile('run-new', 'catalog', 'items'))
    for (const path of [orphan, temp]) await age(path, 2 * 3_600_000)
    for (const path of [oldLetter, quarantined, oldRun]) await age(path, 40 * dayMs)

    // Within the grace period nothing the log removed is touched (a publish may still read it).
    const soon = await applyRetention({ lakeRoot, warehouse })
    expect(soon.lakeFilesRemoved).toEqual([])
    expect(soon).toMatchObject({ tempsRemoved: 1, deadLettersRemoved: 1, quarantinedRemoved: 1, runRecordsRemoved: 1 })
    expect(soon.orphansRemoved).toEqual(['raw/exports/catalog/items/run=crashed/part-00000.parquet'])
    expect([existsSync(orphan), existsSync(youngOrphan), existsSync(temp), existsSync(youngTemp)]).toEqual([false, true, false, true])
    expect([existsSync(oldLetter), existsSync(newLetter), existsSync(quarantined), existsSync(oldRun), existsSync(newRun)]).toEqual([false, true, false, false, true])
    expect(existsSync(dirname(oldRun))).toBe(false)

    // Past it, the two replaced export files and the three compacted change files go; active files stay.
    const later = await applyRetention({ lakeRoot, warehouse, now: new Date(Date.now() + 2 * 3_600_000) })
    expect(later.lakeFilesRemoved).toHaveLength(5)
    // By then the orphan that was young has aged past the grace period too.
    expect(later.orphansRemoved).toEqual(['raw/exports/catalog/items/run=running/part-00000.parquet'])
    const onDisk = (await readdir(lakeRoot, { recursive: true })).filter((p) => p.endsWith('.parquet') && !p.startsWith('_'))
    expect(onDisk.sort()).toEqual(active.sort())
    // A warehouse rebuilt from what is left has the same tables.
    const fresh = await setup()
    await publish({ lakeRoot, warehouse: fresh.warehouse })
    for (const sql of ['SELECT * FROM catalog.items ORDER BY ALL', 'SELECT * FROM ordering.orders__history ORDER BY ALL']) {
      expect(await query(fresh.store, sql)).toEqual(await query(store, sql))
    }
  })

  it('expires old commits through the lake log (checkpointed), and the lake still opens and publishes', { timeout: 300_000 }, async () => {
    const { lakeRoot, warehouse, store } = await setup()
    await commitExport(lakeRoot, { service: 'catalog', table: 'items', mode: 'full', parts: ['SELECT 1 AS id'] })
    const log = await CommitLog.open(lakeRoot)
    for (let i = 0; i < 250; i++) {
      await log.commit({ kind: 'changes', runId: `w${i}`, watermarks: [{ key: 'kafka:t:0', service: 'ordering', table: 'orders', kind: 'kafka-offset', position: String(i), asOf: new Date().toISOString() }] })
    }
    const result = await applyRetention({ lakeRoot, warehouse, log: { expireKeepCommits: 10, expireOlderThanMs: 0 } })
    expect(result.commitsExpired).toBeGreaterThanOrEqual(200)
    const commitFiles = (await readdir(join(lakeRoot, '_log'))).filter((n) => /^\d{20}\.json$/.test(n))
    expect(commitFiles.length).toBeLessThanOrEqual(51)
    const reopened = await CommitLog.open(lakeRoot)
    expect(reopened.latestVersion).toBe(250)
    expect(reopened.watermark('kafka:t:0')?.position).toBe('249')
    expect([...reopened.activeFiles().values()].map((f) => f.table)).toEqual(['items'])
    expect((await publish({ lakeRoot, warehouse })).published).toBe(true)
    expect(await query(store, 'SELECT id FROM catalog.items')).toEqual([{ id: 1 }])
  })
})
