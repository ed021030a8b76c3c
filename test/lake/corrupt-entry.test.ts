import { writeFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { ColdpipeError } from '../../core/errors.ts'
import { collectStatus, renderStatus } from '../../jobs/status.ts'
import { CommitLog, type LakeFile } from '../../lake/index.ts'
import { tempDir } from '../helpers/temp-dir.ts'

function file(path: string): LakeFile {
  return { path, service: 'shop', table: 'orders', origin: 'changes', rows: 1, bytes: 1 }
}

const mark = (position: string) => ({ key: 'kafka:shop.orders:0', service: 'shop', table: 'orders', kind: 'kafka-offset' as const, position, asOf: '2026-11-01T00:00:00.000Z' })

/** Three commits, the middle one truncated on disk. */
async function lakeWithCorruptCommit(): Promise<{ root: string; writer: CommitLog; corruptFile: string }> {
  const root = await tempDir()
  const writer = await CommitLog.open(root)
  await writer.commit({ kind: 'changes', runId: 'r', add: [file('a')], watermarks: [mark('10')] })
  await writer.commit({ kind: 'changes', runId: 'r', add: [file('b')], watermarks: [mark('20')] })
  await writer.commit({ kind: 'changes', runId: 'r', add: [file('c')], watermarks: [mark('30')] })
  const corruptFile = writer.layout.commitFile(1)
  await writeFile(corruptFile, '{"version": 1, "add": [')
  return { root, writer, corruptFile }
}

describe('a corrupt commit', () => {
  it('is exposed by an inspecting open with everything before it, while a writing open refuses it naming the file', async () => {
    const { root, corruptFile } = await lakeWithCorruptCommit()
    const refused = await CommitLog.open(root).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(ColdpipeError)
    expect(refused).toMatchObject({ code: 'LAKE_LOG_CORRUPT', context: { file: corruptFile, version: 1 } })
    expect((refused as ColdpipeError).message).toContain(corruptFile)

    const inspected = await CommitLog.open(root, { inspect: true })
    expect(inspected.latestVersion).toBe(0)
    expect(inspected.corrupt).toMatchObject({ version: 1, file: corruptFile, reason: expect.any(String) })
    expect(inspected.watermark('kafka:shop.orders:0')?.position).toBe('10')
    const commit = await inspected.commit({ kind: 'changes', runId: 'r', add: [file('d')] }).catch((e: unknown) => e)
    expect(commit).toMatchObject({ code: 'LAKE_LOG_CORRUPT', context: { file: corruptFile } })
  })

  it('stops a writer that reaches it, naming the file, and never commits past it', async () => {
    const root = await tempDir()
    const writer = await CommitLog.open(root)
    const other = await CommitLog.open(root)
    await writer.commit({ kind: 'changes', runId: 'r', add: [file('a')] })
    await writer.commit({ kind: 'changes', runId: 'r', add: [file('b')] })
    await writeFile(writer.layout.commitFile(1), 'garbage')
    const error = await other.commit({ kind: 'changes', runId: 'o', add: [file('x')] }).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'LAKE_LOG_CORRUPT', context: { file: writer.layout.commitFile(1), version: 1 } })
    expect(other.latestVersion).toBe(0)
  })

  it('a gap in the log is reported by an inspecting open as well, instead of failing', async () => {
    const root = await tempDir()
    const log = await CommitLog.open(root)
    await log.commit({ kind: 'changes', runId: 'r', add: [file('a')] })
    await writeFile(log.layout.commitFile(2), JSON.stringify({ version: 2, add: [], remove: [], watermarks: [] }))
    const inspected = await CommitLog.open(root, { inspect: true })
    expect(inspected.corrupt).toMatchObject({ version: 1, file: log.layout.commitFile(1), reason: expect.stringContaining('gap') })
  })

  it('coldpipe status reports it and keeps showing the rest', async () => {
    const { root, corruptFile } = await lakeWithCorruptCommit()
    const status = await collectStatus({ lakeRoot: root, jobs: [], now: new Date('2026-11-01T00:10:00Z') })
    expect(status.lake).toMatchObject({ version: 0, corrupt: { version: 1, file: corruptFile } })
    expect(status.sources).toEqual([expect.objectContaining({ source: 'shop', tables: [expect.objectContaining({ table: 'orders', position: '10' })] })])
    const screen = renderStatus(status)
    expect(screen).toContain(`CORRUPT at version 1: ${corruptFile}`)
    expect(screen).toContain('FRESHNESS')
  })
})
