import { existsSync } from 'node:fs'
import { readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { ColdpipeError } from '../../core/errors.ts'
import { CommitLog, type LakeFile } from '../../lake/index.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { capturingLogger, commitHistory, HistoryModel, sortedKeys } from './log-fixtures.ts'

const every = 5

function file(path: string): LakeFile {
  return { path, service: 's', table: 't', origin: 'export', rows: 1, bytes: 1 }
}

async function checkpointsIn(log: CommitLog): Promise<string[]> {
  return (await readdir(log.layout.logDir)).filter((n) => n.endsWith('.checkpoint.json')).sort()
}

describe('CommitLog checkpoints', () => {
  it('the committer of every Nth version writes a checkpoint, and opening reads it plus only the commits after it', async () => {
    const root = await tempDir()
    const model = new HistoryModel(Date.now())
    const writer = await CommitLog.open(root, { checkpointEveryCommits: every })
    await commitHistory(writer, model, 0, 13)
    expect(await checkpointsIn(writer)).toEqual([`${'5'.padStart(20, '0')}.checkpoint.json`, `${'10'.padStart(20, '0')}.checkpoint.json`])
    expect(writer.stats.commitsInMemory).toBeLessThanOrEqual(2 * every)

    const reader = await CommitLog.open(root, { checkpointEveryCommits: every })
    // `_last_checkpoint` led the way: no listing of _log/.
    expect(reader.stats).toMatchObject({ checkpointVersion: 10, commitFilesRead: 2, commitsInMemory: 2, logListings: 0 })
    expect(reader.latestVersion).toBe(12)
    expect(sortedKeys(reader.activeFiles())).toEqual(sortedKeys(model.active))
    expect(Object.fromEntries([...reader.watermarks()].map(([k, m]) => [k, m.position]))).toEqual(Object.fromEntries(model.positions))
    // The version that added each active file survives the checkpoint (publish orders export runs by it).
    for (const path of model.active.keys()) expect(reader.addedIn(path)).toBe(writer.addedIn(path))
  })

  it('opens from _last_checkpoint without listing _log/, and falls back to a listing for a stale pointer, a missing one or a gap', async () => {
    const root = await tempDir()
    const model = new HistoryModel(Date.now())
    const writer = await CommitLog.open(root, { checkpointEveryCommits: every })
    await commitHistory(writer, model, 0, 23)
    const pointer = writer.layout.lastCheckpointFile
    expect(JSON.parse(await readFile(pointer, 'utf8'))).toEqual({ version: 20 })
    const open = () => CommitLog.open(root, { checkpointEveryCommits: every })
    expect((await open()).stats).toMatchObject({ checkpointVersion: 20, commitFilesRead: 2, logListings: 0 })

    // A pointer at a checkpoint that is gone (or unreadable) costs a listing, never a wrong state.
    await writeFile(pointer, JSON.stringify({ version: 15 }))
    await rm(writer.layout.checkpointFile(15))
    const stale = await open()
    expect(stale.stats).toMatchObject({ checkpointVersion: 20, logListings: 1 })
    expect(sortedKeys(stale.activeFiles())).toEqual(sortedKeys(model.active))
    await rm(pointer)
    expect((await open()).stats).toMatchObject({ checkpointVersion: 20, logListings: 1 })

    // A missing commit with a later one present is a gap: the listing path reports it.
    await writeFile(pointer, JSON.stringify({ version: 20 }))
    await rm(writer.layout.commitFile(21))
    await expect(open()).rejects.toMatchObject({ code: 'LAKE_LOG_CORRUPT', context: { missing: 21 } })
    const inspected = await CommitLog.open(root, { inspect: true })
    expect(inspected.stats.logListings).toBe(1)
    expect(inspected.corrupt).toMatchObject({ version: 21 })
  })

  it('answers versions before the checkpoint from disk: span() rebuilds them from an older checkpoint and the commits after it', async () => {
    const root = await tempDir()
    const model = new HistoryModel(Date.now())
    const writer = await CommitLog.open(root, { checkpointEveryCommits: every })
    const activeAt: string[][] = []
    for (let v = 0; v < 13; v++) {
      await commitHistory(writer, model, v, v + 1)
      activeAt.push(sortedKeys(model.active))
    }
    // A long-lived writer answers at least its last N versions from memory, across checkpoint versions.
    for (let v = 12 - every; v <= 12; v++) expect(sortedKeys(writer.activeFiles(v))).toEqual(activeAt[v])
    const reader = await CommitLog.open(root, { checkpointEveryCommits: every })
    expect(() => reader.activeFiles(7)).toThrow(ColdpipeError)
    const span = await reader.span(7, 12)
    expect(span.fromVersion).toBe(7)
    expect(sortedKeys(span.before)).toEqual(activeAt[7])
    expect(sortedKeys(span.now)).toEqual(activeAt[12])
    // Lineage of the compaction at version 9, between the two versions, for publish to tell merged files from new ones.
    expect(span.compactedFrom.get('compacted/s/t0/c9.parquet')).toEqual(expect.arrayContaining(['raw/changes/s/t0/f0.parquet']))
    // Within the in-memory window, the same answers without reading anything.
    expect(sortedKeys(reader.activeFiles(11))).toEqual(activeAt[11])
  })

  it('falls back to an older checkpoint when the newest is corrupt, and to replay when none is readable', async () => {
    const root = await tempDir()
    const model = new HistoryModel(Date.now())
    const writer = await CommitLog.open(root, { checkpointEveryCommits: every })
    await commitHistory(writer, model, 0, 13)
    await writeFile(writer.layout.checkpointFile(10), '{"version": 10, "files": [')

    const { logger, records } = capturingLogger()
    const fallback = await CommitLog.open(root, { checkpointEveryCommits: every, logger })
    expect(fallback.stats).toMatchObject({ checkpointVersion: 5, commitFilesRead: 7 })
    expect(sortedKeys(fallback.activeFiles())).toEqual(sortedKeys(model.active))
    expect(records).toContainEqual(expect.objectContaining({ level: 40, msg: 'lake checkpoint unreadable; reading from an older one', checkpointVersion: 10 }))

    // That open read more than N commits, so it left a checkpoint of its own.
    expect(existsSync(writer.layout.checkpointFile(12))).toBe(true)
    await writeFile(writer.layout.checkpointFile(5), 'not json')
    await writeFile(writer.layout.checkpointFile(12), JSON.stringify({ version: 11 }))
    const replay = await CommitLog.open(root, { checkpointEveryCommits: every })
    expect(replay.stats).toMatchObject({ checkpointVersion: -1, commitFilesRead: 13 })
    expect(sortedKeys(replay.activeFiles())).toEqual(sortedKeys(model.active))
    expect(Object.fromEntries([...replay.watermarks()].map(([k, m]) => [k, m.position]))).toEqual(Object.fromEntries(model.positions))
  })

  it('an opener that had to read more than N commits (the committer died before its checkpoint) writes one', async () => {
    const root = await tempDir()
    const model = new HistoryModel(Date.now())
    const writer = await CommitLog.open(root, { checkpointEveryCommits: every })
    await commitHistory(writer, model, 0, 13)
    await rm(writer.layout.checkpointFile(10))
    await rm(writer.layout.checkpointFile(5))
    const opener = await CommitLog.open(root, { checkpointEveryCommits: every })
    expect(opener.stats.commitFilesRead).toBe(13)
    expect(existsSync(writer.layout.checkpointFile(12))).toBe(true)
    expect((await CommitLog.open(root, { checkpointEveryCommits: every })).stats).toMatchObject({ checkpointVersion: 12, commitFilesRead: 0 })
  })

  it('keeps the idempotency keys of active files and of the last K commits across checkpoints, and drops the rest', async () => {
    const root = await tempDir()
    const options = { checkpointEveryCommits: every, keepKeysForCommits: 3 }
    const log = await CommitLog.open(root, options)
    await log.commit({ kind: 'export', runId: 'r0', idempotencyKey: 'export:r0:s.kept', add: [file('kept')] })
    await log.commit({ kind: 'export', runId: 'r1', idempotencyKey: 'export:r1:s.gone', add: [file('gone')] })
    await log.commit({ kind: 'export', runId: 'r2', remove: ['gone'] })
    for (let i = 3; i <= 10; i++) await log.commit({ kind: 'export', runId: `r${i}`, idempotencyKey: `export:r${i}:s.x`, add: [file(`x${i}`)], remove: i > 3 ? [`x${i - 1}`] : [] })

    const reopened = await CommitLog.open(root, options)
    expect(reopened.stats.checkpointVersion).toBe(10)
    for (const view of [log, reopened]) {
      expect(view.findByKey('export:r0:s.kept')?.version).toBe(0)
      expect(view.findByKey('export:r1:s.gone')).toBeUndefined()
      expect(view.findByKey('export:r5:s.x')).toBeUndefined()
      expect(view.findByKey('export:r8:s.x')?.add.map((f) => f.path)).toEqual(['x8'])
    }
    // A replay of kept work writes nothing, also when the key is known only from the checkpoint.
    const again = await reopened.commit({ kind: 'export', runId: 'r0', idempotencyKey: 'export:r0:s.kept', add: [file('kept')] })
    expect(again).toMatchObject({ duplicate: true, commit: { version: 0 } })
    expect(reopened.latestVersion).toBe(10)
    // Tombstones of removed files are part of the checkpoint, for retention.
    expect(reopened.tombstones().get('gone')).toMatchObject({ path: 'gone', version: 2 })
  })
})
