import { describe, expect, it } from 'vitest'
import { CommitLog, expireLog } from '../../lake/index.ts'
import { publish } from '../../warehouse/index.ts'
import { commitExport } from '../helpers/lake-fixtures.ts'
import { query, setup } from '../warehouse/warehouse-setup.ts'

describe('publish after the log expired the last snapshot version', () => {
  it('rebuilds from the active files instead of failing, with the same rows a merge would give', async () => {
    const { lakeRoot, warehouse, store } = await setup()
    await commitExport(lakeRoot, { service: 'ordering', table: 'orders', mode: 'incremental', key: ['id'], cursor: 'v', parts: [`SELECT range::INT AS id, 1 AS v FROM range(5)`] })
    const first = await publish({ lakeRoot, warehouse })
    if (!first.published) throw new Error('expected publish')
    expect(first.manifest.lakeVersion).toBe(0)

    // Past the default checkpoint interval (100), then expire everything before that checkpoint.
    const log = await CommitLog.open(lakeRoot)
    for (let i = 0; i < 100; i++) await log.commit({ kind: 'retention', runId: `filler-${i}` })
    await commitExport(lakeRoot, { service: 'ordering', table: 'orders', mode: 'incremental', key: ['id'], cursor: 'v', parts: [`SELECT (range + 3)::INT AS id, 2 AS v FROM range(4)`] })
    expect(await expireLog(lakeRoot, { keepCommits: 0, olderThanMs: 0 })).toMatchObject({ keptFromVersion: 100 })

    const second = await publish({ lakeRoot, warehouse })
    if (!second.published) throw new Error('expected publish')
    expect(second.manifest.lakeVersion).toBe(101)
    expect(second.manifest.info).toMatchObject({ tablesRebuilt: ['ordering.orders'] })
    expect(await query(store, 'SELECT id, v FROM ordering.orders ORDER BY id')).toEqual([
      { id: 0, v: 1 }, { id: 1, v: 1 }, { id: 2, v: 1 }, { id: 3, v: 2 }, { id: 4, v: 2 }, { id: 5, v: 2 }, { id: 6, v: 2 },
    ])
  }, 180_000)
})
