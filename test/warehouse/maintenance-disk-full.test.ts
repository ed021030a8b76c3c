import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { isColdpipeError, type ColdpipeError } from '../../core/errors.ts'
import { CommitLog } from '../../lake/index.ts'
import { compact } from '../../warehouse/index.ts'
import { readMaintenanceRecord } from '../../warehouse/maintenance-record.ts'
import { changeRowsSql, commitChanges, type ChangeRow } from '../helpers/lake-fixtures.ts'
import { smallDisk } from '../helpers/small-disk.ts'

async function filesUnder(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true, recursive: true })
    return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)).sort()
  } catch {
    return []
  }
}

describe('compaction on a full disk', () => {
  it('fails with LAKE_DISK_FULL naming the path, leaves no temp or output file and the lake unchanged, and succeeds once space is freed', { timeout: 300_000 }, async () => {
    const disk = await smallDisk(48)
    const lakeRoot = join(disk.dir, 'lake')
    // Rows of random text compress little: the compacted file needs more than the 64 KiB left.
    for (let b = 0; b < 12; b++) {
      const rows: ChangeRow[] = Array.from({ length: 200 }, (_, i) => ({ values: { id: b * 200 + i, note: `${b}-${i}` }, op: 'c', sourcePos: b * 200 + i, offset: b * 200 + i }))
      const select = `SELECT s.* REPLACE (md5(note) || md5(note || 'x') || repeat(md5(random()::VARCHAR), 40) AS note) FROM (${changeRowsSql({ id: 'INTEGER', note: 'VARCHAR' }, rows)}) s`
      await commitChanges(lakeRoot, { service: 'ordering', table: 'orders', key: ['id'], firstOffset: b * 200, lastOffset: b * 200 + 199, selectSql: select })
    }
    const before = await CommitLog.open(lakeRoot)
    const activeBefore = [...before.activeFiles().keys()].sort()
    const inputBytes = [...before.activeFiles().values()].reduce((sum, f) => sum + f.bytes, 0)
    expect(inputBytes).toBeGreaterThan(100_000)
    const filesBefore = await filesUnder(lakeRoot)

    await disk.fill(64 * 1024)
    const error = await compact({ lakeRoot, config: { minFiles: 2 } }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(isColdpipeError(error, 'LAKE_DISK_FULL')).toBe(true)
    const full = error as ColdpipeError
    expect(full.context).toMatchObject({ table: 'ordering.orders', failed: ['ordering.orders'] })
    expect(String(full.context.path)).toContain(join(lakeRoot, 'compacted', 'ordering', 'orders'))
    expect(full.message).toContain(String(full.context.path))
    // Nothing left behind: no temp, no spill, no output at a final path; the log did not move.
    expect(await filesUnder(join(lakeRoot, '_tmp'))).toEqual([])
    expect(await filesUnder(join(lakeRoot, 'compacted'))).toEqual([])
    const after = await CommitLog.open(lakeRoot)
    expect(after.latestVersion).toBe(before.latestVersion)
    expect([...after.activeFiles().keys()].sort()).toEqual(activeBefore)
    const record = await readMaintenanceRecord(lakeRoot, 'compaction')
    expect(record).toMatchObject({ status: 'failed', error: { code: 'LAKE_DISK_FULL', context: { path: full.context.path } } })
    expect((await filesUnder(lakeRoot)).filter((f) => !f.includes('_state'))).toEqual(filesBefore.filter((f) => !f.includes('_state')))

    await disk.free()
    const result = await compact({ lakeRoot, config: { minFiles: 2 } })
    expect(result.tables).toEqual([expect.objectContaining({ table: 'ordering.orders', filesIn: 12, filesOut: 1 })])
    expect(await readMaintenanceRecord(lakeRoot, 'compaction')).toMatchObject({ status: 'succeeded', summary: { filesIn: 12, filesOut: 1 } })
  })
})
