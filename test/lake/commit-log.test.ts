import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { openDatabase } from '../../core/duckdb/index.ts'
import { ColdpipeError } from '../../core/errors.ts'
import { CommitLog, type LakeFile } from '../../lake/index.ts'
import { tempDir } from '../helpers/temp-dir.ts'

const run = promisify(execFile)

function file(path: string, extra: Partial<LakeFile> = {}): LakeFile {
  return { path, service: 's', table: 't', origin: 'export', rows: 1, bytes: 1, ...extra }
}

describe('CommitLog', () => {
  it('numbers commits from 0 and replays adds and removes into the active file set', async () => {
    const log = await CommitLog.open(await tempDir())
    expect(log.latestVersion).toBe(-1)
    await log.commit({ kind: 'export', runId: 'r1', add: [file('a'), file('b')] })
    await log.commit({ kind: 'export', runId: 'r2', add: [file('c')], remove: ['a'] })
    expect(log.latestVersion).toBe(1)
    expect([...log.activeFiles().keys()].sort()).toEqual(['b', 'c'])
    expect([...log.activeFiles(0).keys()].sort()).toEqual(['a', 'b'])
  })

  it('keeps the latest watermark per key', async () => {
    const log = await CommitLog.open(await tempDir())
    const mark = { service: 's', table: 't', kind: 'kafka-offset' as const, asOf: '2026-01-01T00:00:00Z' }
    await log.commit({ kind: 'changes', runId: 'r', watermarks: [{ ...mark, key: 'kafka:x:0', position: '10' }] })
    await log.commit({ kind: 'changes', runId: 'r', watermarks: [{ ...mark, key: 'kafka:x:0', position: '20' }, { ...mark, key: 'kafka:x:1', position: '5' }] })
    const marks = log.watermarks()
    expect(marks.get('kafka:x:0')?.position).toBe('20')
    expect(marks.get('kafka:x:1')?.position).toBe('5')
    expect(log.watermarks(0).get('kafka:x:0')?.position).toBe('10')
  })

  it('refuses a conditional commit when another writer moved the watermark it expected', async () => {
    const lake = await tempDir()
    const mine = await CommitLog.open(lake)
    const theirs = await CommitLog.open(lake)
    const mark = { key: 'kafka:x:0', service: 's', table: 't', kind: 'kafka-offset' as const, asOf: '2026-01-01T00:00:00Z' }
    await theirs.commit({ kind: 'changes', runId: 'b', add: [file('b')], expectWatermarks: { 'kafka:x:0': null }, watermarks: [{ ...mark, position: '9' }] })
    const refused = await mine.commit({ kind: 'changes', runId: 'a', add: [file('a')], expectWatermarks: { 'kafka:x:0': null }, watermarks: [{ ...mark, position: '4' }] }).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(ColdpipeError)
    expect(refused).toMatchObject({ code: 'LAKE_WATERMARK_MOVED', canRetry: true, context: { watermark: 'kafka:x:0', expected: null, actual: '9' } })
    await mine.commit({ kind: 'changes', runId: 'a', add: [file('c')], expectWatermarks: { 'kafka:x:0': '9' }, watermarks: [{ ...mark, position: '12' }] })
    expect([...(await CommitLog.open(lake)).activeFiles().keys()].sort()).toEqual(['b', 'c'])
  })

  it('commits a replay with the same idempotency key only once', async () => {
    const log = await CommitLog.open(await tempDir())
    const first = await log.commit({ kind: 'changes', runId: 'r', idempotencyKey: 'changes:t:0:0-9', add: [file('x')] })
    const again = await log.commit({ kind: 'changes', runId: 'r', idempotencyKey: 'changes:t:0:0-9', add: [file('x')] })
    expect(first.duplicate).toBe(false)
    expect(again.duplicate).toBe(true)
    expect(again.commit.version).toBe(first.commit.version)
    expect(log.latestVersion).toBe(0)
  })

  it('gives every concurrent writer its own version (put-if-absent), across separate log instances', async () => {
    const root = await tempDir()
    const writers = await Promise.all(Array.from({ length: 4 }, () => CommitLog.open(root)))
    await Promise.all(
      writers.flatMap((log, w) => Array.from({ length: 10 }, (_, i) => log.commit({ kind: 'export', runId: `w${w}`, add: [file(`f-${w}-${i}`)] }))),
    )
    const reader = await CommitLog.open(root)
    expect(reader.latestVersion).toBe(39)
    expect(reader.activeFiles().size).toBe(40)
    const versions = await Promise.all(Array.from({ length: 40 }, (_, v) => reader.readCommit(v).then((c) => c?.version)))
    expect(versions).toEqual(Array.from({ length: 40 }, (_, v) => v))
  })

  it('refuses a log with a gap instead of silently skipping commits', async () => {
    const root = await tempDir()
    const log = await CommitLog.open(root)
    await log.commit({ kind: 'export', runId: 'r', add: [file('a')] })
    await writeFile(log.layout.commitFile(2), JSON.stringify({ version: 2 }))
    const error = await CommitLog.open(root).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ColdpipeError)
    expect((error as ColdpipeError).code).toBe('LAKE_LOG_CORRUPT')
    expect((error as ColdpipeError).message).toContain('gap')
  })
})

describe('atomic visibility across a crash', () => {
  it('a writer killed between writing a file and committing it leaves nothing visible, and the rerun commits it once', async () => {
    const root = await tempDir()
    const script = join(import.meta.dirname, 'write-then-crash.ts')
    const crashed = await run(process.execPath, ['--import', 'tsx', script, root, 'after-write']).catch((e: { signal?: string }) => e)
    expect((crashed as { signal?: string }).signal).toBe('SIGKILL')

    const afterCrash = await CommitLog.open(root)
    expect(afterCrash.latestVersion).toBe(-1)
    expect(afterCrash.activeFiles().size).toBe(0)
    // The orphan exists on disk but no reader can see it: visibility is only through the log.
    const orphan = afterCrash.layout.absolute(afterCrash.layout.exportFile({ service: 'shop', table: 'orders', runId: 'run-1', part: 0 }))
    expect(existsSync(orphan)).toBe(true)

    const { stdout } = await run(process.execPath, ['--import', 'tsx', script, root, 'never'])
    expect(stdout).toBe('committed\n')
    await run(process.execPath, ['--import', 'tsx', script, root, 'never'])

    const log = await CommitLog.open(root)
    expect(log.latestVersion).toBe(0)
    const [only] = [...log.activeFiles().values()]
    const db = await openDatabase(':memory:')
    const [row] = await db.all<{ n: bigint; total: bigint }>(`select count(*) as n, sum(total) as total from read_parquet('${log.layout.absolute(only!.path)}')`)
    db.close()
    expect(row).toEqual({ n: 1000n, total: 999_000n })
  }, 180_000) // three child processes, each starting tsx and DuckDB, on a loaded two-core machine
})
