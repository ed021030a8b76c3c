import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { isColdpipeError } from '../../core/errors.ts'
import { RunHistory } from '../../jobs/run-history.ts'
import type { RunRecord } from '../../jobs/index.ts'
import { tempDir } from '../helpers/temp-dir.ts'

/** The run id newRunId would have made `i` minutes after 2026-01-01. */
function runAt(i: number): { runId: string; startedAt: string } {
  const at = new Date(Date.UTC(2026, 0, 1) + i * 60_000)
  const stamp = at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
  return { runId: `export-${stamp}-${i.toString(16).padStart(8, '0')}`, startedAt: at.toISOString() }
}

function record(i: number): RunRecord {
  const { runId, startedAt } = runAt(i)
  return { job: 'export:shop', kind: 'export', runId, trigger: 'schedule', startedAt, endedAt: startedAt, status: 'succeeded', attempts: 1, owner: 'test' }
}

describe('run history grows with its limit, not with the runs kept', () => {
  it('reads only the newest runs of 10,000: older records are never opened', { timeout: 180_000 }, async () => {
    const lake = await tempDir()
    const history = new RunHistory(lake, 20_000)
    const dir = join(history.dir, 'export:shop')
    await mkdir(dir, { recursive: true })
    // The 9,940 oldest records are not JSON: reading any of them would fail the call.
    for (let i = 0; i < 10_000; i++) {
      await writeFile(join(dir, `${runAt(i).runId}.json`), i >= 9_940 ? JSON.stringify(record(i)) : 'not json')
    }
    const newest = await history.runs('export:shop', 50)
    expect(newest.map((r) => r.runId)).toEqual(Array.from({ length: 50 }, (_, k) => runAt(9_999 - k).runId))
    expect((await history.latest('export:shop'))?.runId).toBe(runAt(9_999).runId)
    // The garbage is real: reading everything fails, naming the file.
    const error = await history.runs('export:shop').then(() => undefined, (e: unknown) => e)
    expect(isColdpipeError(error, 'LAKE_IO_FAILED')).toBe(true)
  })

  it('a run id given by hand (no time in it) is still found among the newest', async () => {
    const lake = await tempDir()
    const history = new RunHistory(lake)
    for (let i = 0; i < 30; i++) await history.write(record(i))
    await history.write({ ...record(100), runId: 'backfill-by-hand' })
    expect((await history.runs('export:shop', 5)).map((r) => r.runId)).toEqual(['backfill-by-hand', ...[29, 28, 27, 26].map((i) => runAt(i).runId)])
  })

  it('prune keeps the newest keepRuns and never a running record', { timeout: 180_000 }, async () => {
    const lake = await tempDir()
    const history = new RunHistory(lake, 100)
    const dir = join(history.dir, 'export:shop')
    await mkdir(dir, { recursive: true })
    for (let i = 0; i < 1_000; i++) {
      const r = record(i)
      await writeFile(join(dir, `${r.runId}.json`), JSON.stringify(i === 3 ? { ...r, status: 'running', endedAt: undefined } : r))
    }
    expect(await history.prune('export:shop')).toBe(899)
    const left = (await readdir(dir)).sort()
    expect(left).toHaveLength(101)
    expect(left).toContain(`${runAt(3).runId}.json`)
    expect(left).toContain(`${runAt(900).runId}.json`)
    expect(left).not.toContain(`${runAt(899).runId}.json`)
  })
})
