import { existsSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { CommitLog } from '../../lake/index.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { commitHistory, HistoryModel, sortedKeys, tables, writeHistory } from './log-fixtures.ts'

const every = 100
const total = 10_000
const dayMs = 86_400_000

describe('a checkpointed log after 10,000 commits', () => {
  it('opens from the newest checkpoint, reading at most N commit files and holding at most N commits and bounded keys', async () => {
    const root = await tempDir()
    // Ten thousand minutes of history, the last hundred commits made through the real committer.
    const model = new HistoryModel(Date.now() - total * 60_000)
    await writeHistory(root, model, 0, total - every)
    const first = await CommitLog.open(root, { checkpointEveryCommits: every })
    // Even a full replay never holds more than 2N commits: the state is pruned at every Nth version.
    expect(first.stats.commitFilesRead).toBe(total - every)
    expect(first.stats.commitsInMemory).toBeLessThanOrEqual(2 * every)
    await commitHistory(first, model, total - every, total)
    expect(existsSync(first.layout.checkpointFile(total - every))).toBe(true)

    const log = await CommitLog.open(root, { checkpointEveryCommits: every })
    expect(log.latestVersion).toBe(total - 1)
    expect(log.stats.checkpointVersion).toBe(total - every)
    expect(log.stats.commitFilesRead).toBeLessThanOrEqual(every)
    expect(log.stats.commitsInMemory).toBeLessThanOrEqual(every)
    // Keys: the last keepKeysForCommits (200) commits' and those of commits whose files are active, not 10,000.
    expect(log.stats.idempotencyKeys).toBeLessThanOrEqual(200 + every + log.stats.activeFiles)
    expect(sortedKeys(log.activeFiles())).toEqual(sortedKeys(model.active))
    expect(log.stats.activeFiles).toBeLessThan(3 * 10)
    expect(Object.fromEntries([...log.watermarks()].map(([k, m]) => [k, m.position]))).toEqual(Object.fromEntries(model.positions))
    expect(log.findByKey('changes:topic:0:9990-9990')?.version).toBe(9990)
    expect(log.findByKey('changes:topic:0:0-0')).toBeUndefined()
    // Tombstones cover the last day of removals only (retention's grace is far shorter), not the whole history.
    const tombstones = [...log.tombstones().values()]
    expect(tombstones.length).toBeGreaterThan(0)
    const checkpointTime = model.startMs + (total - every) * 60_000
    expect(tombstones.every((t) => Date.parse(t.removedAt) >= checkpointTime - dayMs)).toBe(true)
    expect(tombstones.length).toBeLessThan(total / 2)
    for (const table of tables) expect(log.activeFiles().get(model.compacted.get(table)!)).toBeDefined()
  }, 180_000) // building the history replays 9,900 commit files once
})
