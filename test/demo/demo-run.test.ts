import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it, onTestFinished } from 'vitest'
import { silentLogger } from '../../core/logger.ts'
import { runDemo } from '../../demo/run-demo.ts'
import { SnapshotStore } from '../../warehouse/index.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { waitFor } from '../helpers/wait-for.ts'

const bin = fileURLToPath(new URL('../../bin/coldpipe.mjs', import.meta.url))

interface ReportAnswer {
  snapshot: { id: number }
  dataAsOf: string
  rows: Record<string, unknown>[]
}

describe('coldpipe demo', () => {
  // Three embedded databases, the broker, exports and a publish: about 35 s idle, much longer on a loaded machine.
  it('exports every shop table, publishes, serves reports, lets `coldpipe sql` read alongside, and lands simulated changes', { timeout: 240_000 }, async () => {
    const dataDir = join(await tempDir(), 'demo')
    const lines: string[] = []
    const demo = await runDemo({ dataDir, port: 0, logger: silentLogger, rateEventsPerSecond: 200, say: (line) => lines.push(line) })
    onTestFinished(() => demo.close())
    expect(lines.join('\n')).toMatch(/exported catalog: \d+ rows/)
    expect(lines.join('\n')).toMatch(/exported ordering: \d+ rows/)
    expect(lines.join('\n')).toMatch(/exported identity: \d+ rows/)
    expect(lines.join('\n')).toMatch(/first simulated order changes landed/)

    expect((await fetch(`${demo.url}/ready`)).status).toBe(200)
    const catalog = (await (await fetch(`${demo.url}/reports`)).json()) as { reports: { name: string; params: unknown[] }[] }
    expect(catalog.reports.length).toBeGreaterThanOrEqual(3)
    const top = (await (await fetch(`${demo.url}/reports/top_buyers?top=3`)).json()) as ReportAnswer
    expect(top.rows).toHaveLength(3)
    expect(top.snapshot.id).toBe(1)
    expect(Date.parse(top.dataAsOf)).toBeGreaterThan(0)

    // The report built from change history: simulated orders that came through Kafka as CDC envelopes.
    const live = (await (await fetch(`${demo.url}/reports/live_order_funnel`)).json()) as ReportAnswer
    expect(live.rows[0]).toMatchObject({ step: 1, status: 'submitted' })
    const liveOrders = spawnSync(process.execPath, [bin, '-c', demo.configFile, '--log-level', 'silent', 'sql', '-c', 'select count(*) as n from ordering.orders_cdc', '--format', 'csv'], { encoding: 'utf8' })
    expect(liveOrders.stdout.trim().split('\n')).toEqual(['n', String(live.rows[0]!.orders)])

    // Every seeded order is in the warehouse, read by another process while the API holds the snapshot open.
    const seeded = (await demo.shop.query<{ n: string }>('ordering', 'select count(*)::text as n from orders'))[0]!.n
    const sql = spawnSync(process.execPath, [bin, '-c', demo.configFile, '--log-level', 'silent', 'sql', '-c', 'select count(*) as n from ordering.orders', '--format', 'csv'], { encoding: 'utf8' })
    expect(sql.stderr).toBe('')
    expect(sql.stdout.trim().split('\n')).toEqual(['n', seeded])

    // Simulated shop activity goes through Kafka, lands, and shows up in the next snapshot.
    const store = new SnapshotStore(join(dataDir, 'warehouse'))
    await waitFor(
      async () => {
        const publish = await demo.pipeline.scheduler.runNow('publish')
        expect(publish.error).toBeUndefined()
        const tables = (await store.current())?.tables ?? []
        return tables.some((t) => t.schema === 'ordering' && t.name === 'orders_cdc' && t.rows > 0)
      },
      { timeoutMs: 60_000, intervalMs: 500, message: 'simulated order changes in a published snapshot' },
    )
    const after = spawnSync(process.execPath, [bin, '-c', demo.configFile, '--log-level', 'silent', 'sql', '-c', 'select count(*) > 0 as ok from ordering.orders_cdc', '--format', 'csv'], { encoding: 'utf8' })
    expect(after.stderr).toBe('')
    expect(after.stdout.trim().split('\n')).toEqual(['ok', 'true'])

    await demo.close()
    await expect(fetch(`${demo.url}/health`)).rejects.toThrow()
    // The published snapshot stays for later `coldpipe sql` sessions.
    expect(existsSync(join(dataDir, 'warehouse', 'current.duckdb'))).toBe(true)
  })

  it('never wipes a folder the demo did not make', async () => {
    const dataDir = await tempDir()
    await mkdir(join(dataDir, 'mine'))
    await writeFile(join(dataDir, 'mine', 'keep.txt'), 'precious')
    await expect(runDemo({ dataDir, port: 0, logger: silentLogger })).rejects.toMatchObject({ code: 'DEMO_FAILED' })
    expect(existsSync(join(dataDir, 'mine', 'keep.txt'))).toBe(true)
  })

  it('runs from the CLI: prints the URL once the first snapshot is served, and stops on SIGINT', async () => {
    const dataDir = join(await tempDir(), 'demo')
    const child = spawn(process.execPath, [bin, '--log-level', 'warn', 'demo', '--port', '0', '--data-dir', dataDir, '--rate', '0'], { stdio: ['ignore', 'pipe', 'pipe'] })
    onTestFinished(() => void child.kill('SIGKILL'))
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk))
    const url = await waitFor(() => /ready: (http:\/\/\S+)/.exec(stdout)?.[1], { timeoutMs: 90_000, message: `demo URL (stderr: ${stderr.slice(-500)})` })
    const answer = await fetch(`${url}/reports/top_buyers?top=2&format=csv`)
    expect(answer.headers.get('content-type')).toMatch(/text\/csv/)
    expect((await answer.text()).trim().split('\n')).toHaveLength(3)
    expect(stderr).toMatch(/published the first warehouse snapshot/)
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    child.kill('SIGINT')
    expect(await exited).toBe(130)
  })
})
