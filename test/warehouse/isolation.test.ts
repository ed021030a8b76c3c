import { spawn, type ChildProcess } from 'node:child_process'
import { readdir } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { describe, expect, it, onTestFinished } from 'vitest'
import { publish } from '../../warehouse/index.ts'
import { commitExport } from '../helpers/lake-fixtures.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { query, setup } from './warehouse-setup.ts'

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

function child(script: string, args: string[]): { proc: ChildProcess; lines: string[]; ask: (sql: string) => Promise<unknown> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', fixture(script), ...args], { stdio: ['pipe', 'pipe', 'inherit'] })
  onTestFinished(() => { if (proc.exitCode === null) proc.kill('SIGKILL') })
  const lines: string[] = []
  createInterface({ input: proc.stdout! }).on('line', (line) => lines.push(line))
  const ask = async (sql: string) => {
    const before = lines.length
    proc.stdin!.write(`${sql}\n`)
    await waitFor(() => lines.length > before)
    return JSON.parse(lines[before]!)
  }
  return { proc, lines, ask }
}

describe('snapshot isolation', () => {
  it('two processes hold snapshot N read-only while N+1 publishes, and keep their answers', async () => {
    const { lakeRoot, warehouse, store } = await setup()
    await commitExport(lakeRoot, { service: 'catalog', table: 'items', mode: 'full', parts: ['SELECT range::INT AS id FROM range(10)'] })
    await publish({ lakeRoot, warehouse })
    const readers = [child('hold-snapshot.ts', [warehouse.path]), child('hold-snapshot.ts', [warehouse.path])]
    await waitFor(() => readers.every((r) => r.lines[0] === 'ready'))
    const sql = 'SELECT count(*)::INT AS n FROM catalog.items'
    for (const r of readers) expect(await r.ask(sql)).toEqual([{ n: 10 }])
    await commitExport(lakeRoot, { service: 'catalog', table: 'items', mode: 'full', parts: ['SELECT range::INT AS id FROM range(25)'] })
    const result = await publish({ lakeRoot, warehouse })
    expect(result.published).toBe(true)
    for (const r of readers) expect(await r.ask(sql)).toEqual([{ n: 10 }])
    expect(await query(store, sql)).toEqual([{ n: 25 }])
    for (const r of readers) r.proc.stdin!.end()
  })

  it('SIGKILL mid-publish leaves N current, nothing half-built visible, and the next publish works', async () => {
    const { lakeRoot, warehouse, store } = await setup()
    await commitExport(lakeRoot, { service: 'catalog', table: 'items', mode: 'full', parts: ['SELECT 1 AS id'] })
    await publish({ lakeRoot, warehouse })
    await commitExport(lakeRoot, { service: 'catalog', table: 'items', mode: 'full', parts: ['SELECT 2 AS id'] })
    const publisher = child('child-publish.ts', [lakeRoot, warehouse.path])
    await waitFor(() => publisher.lines.includes('parked'))
    await expect(publish({ lakeRoot, warehouse })).rejects.toMatchObject({ code: 'WAREHOUSE_PUBLISH_FAILED', context: { pid: publisher.proc.pid } })
    publisher.proc.kill('SIGKILL')
    await waitFor(() => publisher.proc.exitCode !== null || publisher.proc.signalCode !== null)
    expect(await store.currentId()).toBe(1)
    expect(await store.list()).toEqual([1])
    expect(await query(store, 'SELECT id FROM catalog.items')).toEqual([{ id: 1 }])
    const next = await publish({ lakeRoot, warehouse })
    if (!next.published) throw new Error('expected publish')
    expect(next.manifest.id).toBe(2)
    expect(await query(store, 'SELECT id FROM catalog.items')).toEqual([{ id: 2 }])
    // the killed publisher's lock was taken over
    expect((await readdir(store.snapshotsDir)).sort()).toEqual(['00000001.duckdb', '00000001.json', '00000002.duckdb', '00000002.json'])
  })
})
