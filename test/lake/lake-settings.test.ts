import { readdir, readFile, writeFile } from 'node:fs/promises'
import { Command } from 'commander'
import { describe, expect, it } from 'vitest'
import { registerLakeCommand } from '../../cli/commands/lake-command.ts'
import type { ColdpipeConfig } from '../../cli/config/index.ts'
import { silentLogger } from '../../core/logger.ts'
import { CommitLog, commitLogDefaults, expireLog, LakeLayout, updateLakeSettings } from '../../lake/index.ts'
import { applyRetention } from '../../warehouse/index.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { commitHistory, HistoryModel, writeHistory } from './log-fixtures.ts'

const dayMs = 86_400_000

async function checkpoints(root: string): Promise<number[]> {
  return (await readdir(new LakeLayout(root).logDir)).filter((n) => n.endsWith('.checkpoint.json')).map((n) => Number(n.slice(0, 20))).sort((a, b) => a - b)
}

async function lakeCli(lake: string, args: string[]): Promise<string> {
  const program = new Command().exitOverride()
  registerLakeCommand(program, { logger: silentLogger, config: async () => ({ lake }) as ColdpipeConfig, configPath: () => 'coldpipe.yaml', onShutdown: () => undefined, keepRunning: () => undefined, longRunning: false, logAsServer: () => undefined })
  let out = ''
  const write = process.stdout.write.bind(process.stdout)
  process.stdout.write = ((chunk: string) => ((out += chunk), true)) as typeof process.stdout.write
  try {
    await program.parseAsync(['node', 'coldpipe', 'lake', 'settings', ...args])
  } finally {
    process.stdout.write = write
  }
  return out
}

describe('lake settings in _lake.json', () => {
  it('every process that opens the lake checkpoints and prunes tombstones by the lake settings, not by its own defaults', async () => {
    const root = await tempDir()
    expect(await updateLakeSettings(root, { set: { checkpointEveryCommits: 4, keepTombstonesForMs: 0 } })).toEqual({ checkpointEveryCommits: 4, keepTombstonesForMs: 0 })
    const writer = await CommitLog.open(root)
    expect(writer.settings).toMatchObject({ checkpointEveryCommits: 4, keepTombstonesForMs: 0, keepKeysForCommits: commitLogDefaults.keepKeysForCommits })
    const model = new HistoryModel(Date.now())
    // Commit 9 compacts t0, removing files: tombstones; the checkpoint at 12 prunes them (kept 0 ms).
    await commitHistory(writer, model, 0, 10)
    expect(writer.tombstones().size).toBeGreaterThan(0)
    await commitHistory(writer, model, 10, 13)
    expect(await checkpoints(root)).toEqual([4, 8, 12])
    expect(writer.tombstones().size).toBe(0)
    // An explicit option still wins over the lake's setting (tests and tools that need a given cadence).
    expect((await CommitLog.open(root, { checkpointEveryCommits: 50 })).settings.checkpointEveryCommits).toBe(50)
  })

  it('expireLog takes its margins from the lake settings when none are given', async () => {
    const root = await tempDir()
    const model = new HistoryModel(Date.now() - 10 * dayMs)
    await writeHistory(root, model, 0, 150)
    await CommitLog.open(root, { checkpointEveryCommits: 100 })
    await writeHistory(root, model, 150, 160)
    // Defaults keep 1,000 commits: nothing of 160 goes.
    expect(await expireLog(root)).toEqual({ commitsRemoved: 0, checkpointsRemoved: 0 })
    await updateLakeSettings(root, { set: { expireKeepCommits: 5, expireOlderThanMs: dayMs } })
    expect(await expireLog(root)).toMatchObject({ keptFromVersion: 149, commitsRemoved: 149 })
  })

  it('a wrong setting is CONFIG_INVALID naming the file and the setting, whether passed or hand-edited into _lake.json', async () => {
    const root = await tempDir()
    const layout = new LakeLayout(root)
    await expect(updateLakeSettings(root, { set: { keepTombstonesForMs: -1 } })).rejects.toMatchObject({ code: 'CONFIG_INVALID', context: { path: 'keepTombstonesForMs' } })
    await expect(updateLakeSettings(root, { set: { checkpointEvery: 10 } as never })).rejects.toMatchObject({ code: 'CONFIG_INVALID', context: { path: 'checkpointEvery' } })
    await expect(updateLakeSettings(root, { unset: ['nope'] })).rejects.toMatchObject({ code: 'CONFIG_INVALID', context: { path: 'nope' } })
    await CommitLog.open(root)
    const doc = JSON.parse(await readFile(layout.formatFile, 'utf8'))
    await writeFile(layout.formatFile, JSON.stringify({ ...doc, settings: { checkpointEveryCommits: 'often' } }))
    for (const inspect of [false, true]) {
      const error = await CommitLog.open(root, { inspect }).catch((e: unknown) => e)
      expect(error).toMatchObject({ code: 'CONFIG_INVALID', context: { path: 'checkpointEveryCommits' } })
      expect((error as Error).message).toContain(layout.formatFile)
    }
  })

  it('retention refuses a tombstone keep shorter than its grace period (removed files would go while a publish may read them)', async () => {
    const root = await tempDir()
    const warehouseDir = await tempDir()
    await updateLakeSettings(root, { set: { keepTombstonesForMs: 1_000 } })
    await expect(applyRetention({ lakeRoot: root, warehouse: { path: warehouseDir } as never, orphanGraceMs: 60_000 })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      context: { path: 'keepTombstonesForMs', keepTombstonesForMs: 1_000, graceMs: 60_000 },
    })
    await updateLakeSettings(root, { unset: ['keepTombstonesForMs'] })
    await expect(applyRetention({ lakeRoot: root, warehouse: { path: warehouseDir } as never, orphanGraceMs: 60_000 })).resolves.toBeDefined()
  })

  it('`coldpipe lake settings` shows every setting and where it comes from, and --set/--unset change them', async () => {
    const root = await tempDir()
    expect(await lakeCli(root, [])).toContain(`checkpointEveryCommits\t${commitLogDefaults.checkpointEveryCommits}\tdefault`)
    const out = await lakeCli(root, ['--set', 'keepTombstonesForMs=7200000', '--set', 'expireKeepCommits=300'])
    expect(out).toContain('keepTombstonesForMs\t7200000\tlake')
    expect(out).toContain('expireKeepCommits\t300\tlake')
    expect((await CommitLog.open(root)).settings).toMatchObject({ keepTombstonesForMs: 7_200_000, expireKeepCommits: 300 })
    expect(await lakeCli(root, ['--unset', 'expireKeepCommits'])).toContain(`expireKeepCommits\t${commitLogDefaults.expireKeepCommits}\tdefault`)
    await expect(lakeCli(root, ['--set', 'keepTombstonesForMs'])).rejects.toMatchObject({ code: 'REQUEST_INVALID' })
  })
})
