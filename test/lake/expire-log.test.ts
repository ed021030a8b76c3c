import { readdir } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { ColdpipeError } from '../../core/errors.ts'
import { CommitLog, expireLog } from '../../lake/index.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { commitHistory, HistoryModel, sortedKeys, writeHistory } from './log-fixtures.ts'

const every = 100
const dayMs = 86_400_000

/** 306 commits: 0..299 ten days old with checkpoints at 149 and 299, then 300..305 committed now (checkpoint 300). */
async function agedLake(): Promise<{ root: string; model: HistoryModel }> {
  const root = await tempDir()
  const model = new HistoryModel(Date.now() - 10 * dayMs)
  await writeHistory(root, model, 0, 150)
  await CommitLog.open(root, { checkpointEveryCommits: every })
  await writeHistory(root, model, 150, 300)
  const log = await CommitLog.open(root, { checkpointEveryCommits: every })
  await commitHistory(log, model, 300, 306)
  return { root, model }
}

async function logNames(root: string): Promise<{ commits: number[]; checkpoints: number[] }> {
  const names = await readdir(`${root}/_log`)
  return {
    commits: names.filter((n) => /^\d{20}\.json$/.test(n)).map((n) => Number(n.slice(0, 20))),
    checkpoints: names.filter((n) => n.endsWith('.checkpoint.json')).map((n) => Number(n.slice(0, 20))),
  }
}

describe('expireLog', () => {
  it('removes commits and checkpoints before the newest checkpoint past both margins; the rest opens as before', async () => {
    const { root, model } = await agedLake()
    // 300 was checkpointed by its committer, today: too young to cut at.
    expect((await logNames(root)).checkpoints.sort((a, b) => a - b)).toEqual([149, 299, 300])

    // Too young: nothing goes.
    expect(await expireLog(root, { keepCommits: 3, olderThanMs: 30 * dayMs })).toEqual({ commitsRemoved: 0, checkpointsRemoved: 0 })
    // Checkpoint 299 is within the last 10 commits: the cut is at 149.
    expect(await expireLog(root, { keepCommits: 10, olderThanMs: 7 * dayMs })).toEqual({ keptFromVersion: 149, commitsRemoved: 149, checkpointsRemoved: 0 })
    expect(await expireLog(root, { keepCommits: 3, olderThanMs: 7 * dayMs })).toEqual({ keptFromVersion: 299, commitsRemoved: 150, checkpointsRemoved: 1 })
    const left = await logNames(root)
    expect(Math.min(...left.commits)).toBe(299)
    expect(left.checkpoints.sort((a, b) => a - b)).toEqual([299, 300])

    const log = await CommitLog.open(root, { checkpointEveryCommits: every })
    expect(log.latestVersion).toBe(305)
    expect(sortedKeys(log.activeFiles())).toEqual(sortedKeys(model.active))
    expect(await log.readCommit(10)).toBeUndefined()
  })

  it('a version before the oldest retained checkpoint is LAKE_VERSION_EXPIRED, or a rebuild for publish', async () => {
    const { root, model } = await agedLake()
    await expireLog(root, { keepCommits: 3, olderThanMs: 7 * dayMs })
    const log = await CommitLog.open(root, { checkpointEveryCommits: every })
    const error = await log.span(120, 305).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ColdpipeError)
    expect(error).toMatchObject({ code: 'LAKE_VERSION_EXPIRED', status: 410, canRetry: false })
    const rebuild = await log.span(120, 305, { ifExpired: 'rebuild' })
    expect(rebuild.fromVersion).toBeUndefined()
    expect(rebuild.before.size).toBe(0)
    expect(sortedKeys(rebuild.now)).toEqual(sortedKeys(model.active))
    // From the retained checkpoint on, versions are still there.
    expect((await log.span(299, 305)).fromVersion).toBe(299)
  })

  it('a process that slept through the expiry re-reads from the checkpoint instead of reusing a deleted version number', async () => {
    const root = await tempDir()
    const model = new HistoryModel(Date.now() - 10 * dayMs)
    await writeHistory(root, model, 0, 150)
    const sleeper = await CommitLog.open(root, { checkpointEveryCommits: every })
    await writeHistory(root, model, 150, 300)
    await CommitLog.open(root, { checkpointEveryCommits: every })
    await expireLog(root, { keepCommits: 0, olderThanMs: 7 * dayMs })
    expect(Math.min(...(await logNames(root)).commits)).toBe(299)

    await commitHistory(sleeper, model, 300, 301)
    const log = await CommitLog.open(root, { checkpointEveryCommits: every })
    expect(log.latestVersion).toBe(300)
    expect(sortedKeys(log.activeFiles())).toEqual(sortedKeys(model.active))
  })
})
