import { describe, expect, it } from 'vitest'
import { isColdpipeError } from '../../core/errors.ts'
import { CommitLog, type LakeFile } from '../../lake/index.ts'
import { tempDir } from '../helpers/temp-dir.ts'

function file(path: string, extra: Partial<LakeFile> = {}): LakeFile {
  return { path, service: 's', table: 't', origin: 'export', rows: 1, bytes: 1, ...extra }
}

// Two CommitLog instances on one lake stand for two processes: each sees the other's commits only by
// reading the log, as processes on two machines sharing a lake would.
describe('conditions decided at the version a commit lands at', () => {
  it("a full export's replace also removes a compaction output another process committed after the export looked", async () => {
    const root = await tempDir()
    const exporter = await CommitLog.open(root)
    const compactor = await CommitLog.open(root)
    await exporter.commit({ kind: 'export', runId: 'run1', add: [file('run1/a'), file('run1/b'), file('other', { table: 'u' })] })
    // The exporter has seen run1's files; the compactor now merges them into one file, from its own view.
    await compactor.refresh()
    await compactor.commit({ kind: 'compaction', runId: 'c', add: [file('compacted/ab')], remove: ['run1/a', 'run1/b'], requireActive: ['run1/a', 'run1/b'] })
    const { commit } = await exporter.commit({ kind: 'export', runId: 'run2', add: [file('run2/a')], replaceExportsOf: { service: 's', table: 't' } })
    expect(commit.remove).toEqual(['compacted/ab'])
    expect([...exporter.activeFiles().keys()].sort()).toEqual(['other', 'run2/a'])
  })

  it('a compaction whose input another process removed meanwhile is refused, and the lake is unchanged', async () => {
    const root = await tempDir()
    const compactor = await CommitLog.open(root)
    const exporter = await CommitLog.open(root)
    await compactor.commit({ kind: 'export', runId: 'run1', add: [file('run1/a'), file('run1/b')] })
    await exporter.refresh()
    await exporter.commit({ kind: 'export', runId: 'run2', add: [file('run2/a')], replaceExportsOf: { service: 's', table: 't' } })
    const error = await compactor
      .commit({ kind: 'compaction', runId: 'c', add: [file('compacted/ab')], remove: ['run1/a', 'run1/b'], requireActive: ['run1/a', 'run1/b'] })
      .then(() => undefined, (e: unknown) => e)
    expect(isColdpipeError(error, 'LAKE_COMMIT_CONFLICT')).toBe(true)
    expect((error as { context: Record<string, unknown> }).context.path).toBe('run1/a')
    expect([...compactor.activeFiles().keys()]).toEqual(['run2/a'])
    expect(compactor.latestVersion).toBe(1)
  })

  it("a replace leaves other tables' files and change files of the same name alone", async () => {
    const log = await CommitLog.open(await tempDir())
    await log.commit({ kind: 'export', runId: 'r1', add: [file('x'), file('y', { service: 'other' }), file('z', { origin: 'changes' })] })
    const { commit } = await log.commit({ kind: 'export', runId: 'r2', add: [file('x2')], remove: ['x'], replaceExportsOf: { service: 's', table: 't' } })
    expect(commit.remove).toEqual(['x'])
    expect([...log.activeFiles().keys()].sort()).toEqual(['x2', 'y', 'z'])
  })
})
