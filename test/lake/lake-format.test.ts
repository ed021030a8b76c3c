import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { ColdpipeError } from '../../core/errors.ts'
import { CommitLog, LakeLayout, lakeFormatVersion } from '../../lake/index.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { capturingLogger, HistoryModel, sortedKeys, writeHistory } from './log-fixtures.ts'

describe('lake format version', () => {
  it('a new lake gets _lake.json with the format version and creation time', async () => {
    const root = await tempDir()
    const log = await CommitLog.open(root)
    const doc = JSON.parse(await readFile(log.layout.formatFile, 'utf8'))
    expect(doc).toEqual({ formatVersion: lakeFormatVersion, createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) })
  })

  it('refuses a lake written by a newer coldpipe, naming the file and both versions, for writers and status alike', async () => {
    const root = await tempDir()
    await CommitLog.open(root)
    const layout = new LakeLayout(root)
    await writeFile(layout.formatFile, JSON.stringify({ formatVersion: lakeFormatVersion + 1, createdAt: '2030-01-01T00:00:00Z' }))
    for (const inspect of [false, true]) {
      const error = await CommitLog.open(root, { inspect }).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(ColdpipeError)
      expect(error).toMatchObject({
        code: 'LAKE_FORMAT_UNSUPPORTED',
        context: { file: layout.formatFile, lakeFormatVersion: lakeFormatVersion + 1, supportedFormatVersion: lakeFormatVersion },
      })
      expect((error as ColdpipeError).message).toContain(layout.formatFile)
    }
  })

  it('migrates a lake from before _lake.json: writes the file and a first checkpoint, and logs it', async () => {
    const root = await tempDir()
    const model = new HistoryModel(Date.now())
    await writeHistory(root, model, 0, 42, { formatFile: false })
    const layout = new LakeLayout(root)
    expect(existsSync(layout.formatFile)).toBe(false)

    const { logger, records } = capturingLogger()
    const log = await CommitLog.open(root, { logger })
    expect(sortedKeys(log.activeFiles())).toEqual(sortedKeys(model.active))
    expect(JSON.parse(await readFile(layout.formatFile, 'utf8'))).toMatchObject({ formatVersion: lakeFormatVersion })
    expect(existsSync(layout.checkpointFile(41))).toBe(true)
    expect(records).toContainEqual(expect.objectContaining({ level: 30, msg: 'lake migrated to the current format', fromFormatVersion: 0, formatVersion: lakeFormatVersion, checkpointVersion: 41 }))

    const again = await CommitLog.open(root)
    expect(again.stats).toMatchObject({ checkpointVersion: 41, commitFilesRead: 0 })
    expect(sortedKeys(again.activeFiles())).toEqual(sortedKeys(model.active))
  })

  it('status (inspect) reads an unmigrated lake without writing anything', async () => {
    const root = await tempDir()
    const model = new HistoryModel(Date.now())
    await writeHistory(root, model, 0, 5, { formatFile: false })
    const log = await CommitLog.open(root, { inspect: true })
    expect(log.latestVersion).toBe(4)
    expect(existsSync(log.layout.formatFile)).toBe(false)
    expect(existsSync(log.layout.tmpDir)).toBe(false)
  })
})
