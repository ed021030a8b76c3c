import { randomUUID } from 'node:crypto'
import { describe, expect, it, onTestFinished } from 'vitest'
import { startPipeline } from '../../cli/start-pipeline.ts'
import { parseConfig } from '../../cli/config/index.ts'
import { silentLogger } from '../../core/logger.ts'
import { LakeLayout } from '../../lake/index.ts'
import { startErasureAlerts, updateErasureList, type ErasureAlert, type ErasureEntry } from '../../lake/erasure/index.ts'
import { httpCapture } from '../helpers/http-capture.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { waitFor } from '../helpers/wait-for.ts'

const day = 86_400_000

function entry(id: string, status: ErasureEntry['status'], deadlineInMs: number, extra: Partial<ErasureEntry> = {}): ErasureEntry {
  return {
    id,
    subject: 'user',
    subjectHash: `subject-hash-${id}`,
    keyId: 'k1',
    requestedAt: new Date(Date.now() - 10 * day).toISOString(),
    deadline: new Date(Date.now() + deadlineInMs).toISOString(),
    status,
    matches: { 'idn.users.id': [`matched-hash-${id}`] },
    ...extra,
  }
}

async function setEntries(layout: LakeLayout, change: (entries: ErasureEntry[]) => void): Promise<void> {
  await updateErasureList(layout, (doc) => change(doc.entries))
}

describe('erasure deadline alerts', () => {
  it('alert once per state change, however often the list is checked', { timeout: 60_000 }, async () => {
    const layout = new LakeLayout(await tempDir())
    await setEntries(layout, (e) => e.push(entry('er-a', 'pending', 3 * day), entry('er-b', 'pending', 20 * day)))
    const fired: ErasureAlert[] = []
    const alerts = startErasureAlerts({ layout, warnDays: 7, checkIntervalMs: 3_600_000, alert: async (a) => void fired.push(a) })
    onTestFinished(() => alerts.close())
    await waitFor(() => fired.length === 1, { timeoutMs: 10_000 })
    for (let i = 0; i < 3; i++) expect(await alerts.check()).toEqual([])
    expect(fired.map((a) => [a.erasure, a.type])).toEqual([['er-a', 'erasure.due']])
    // Later than the deadline: a new state, one alert; then nothing again.
    const late = new Date(Date.now() + 4 * day)
    const later = startErasureAlerts({ layout, warnDays: 7, checkIntervalMs: 3_600_000, alert: async (a) => void fired.push(a), now: () => late })
    onTestFinished(() => later.close())
    await waitFor(() => fired.length === 2, { timeoutMs: 10_000 })
    expect(await later.check()).toEqual([])
    expect(fired.slice(1).map((a) => [a.erasure, a.type])).toEqual([['er-a', 'erasure.overdue']])
  })

  it('an alert the webhook did not take is sent again at the next check, then not again', { timeout: 60_000 }, async () => {
    const layout = new LakeLayout(await tempDir())
    await setEntries(layout, (e) => e.push(entry('er-x', 'failed', -day)))
    const attempts: ErasureAlert[] = []
    let up = false
    const alerts = startErasureAlerts({ layout, warnDays: 7, checkIntervalMs: 3_600_000, alert: async (a) => (attempts.push(a), up) })
    onTestFinished(() => alerts.close())
    await waitFor(() => attempts.length === 1, { timeoutMs: 10_000 })
    expect(await alerts.check()).toHaveLength(1)
    up = true
    expect(await alerts.check()).toHaveLength(1)
    expect(await alerts.check()).toEqual([])
    expect(attempts.map((a) => [a.erasure, a.type])).toEqual([['er-x', 'erasure.overdue'], ['er-x', 'erasure.overdue'], ['er-x', 'erasure.overdue']])
  })

  it('under coldpipe start, POST the webhook when an erasure becomes due or overdue, with its id and deadline, never the subject', { timeout: 90_000 }, async () => {
    const dir = await tempDir()
    const hook = await httpCapture()
    const config = parseConfig(
      {
        lake: './lake',
        warehouse: './warehouse',
        sources: {},
        pii: { subjects: { user: { keys: ['idn.users.id'] } }, erasureWarnDays: 7, erasureCheckIntervalMs: 100 },
        api: { port: 0 },
        jobs: { catchUpOnStart: false, alertWebhookUrl: hook.url },
      },
      { origin: 'test', baseDir: dir, env: {} },
    )
    const layout = new LakeLayout(config.lake)
    const tag = randomUUID().slice(0, 8)
    const a = `er-a-${tag}`
    const b = `er-b-${tag}`
    const c = `er-c-${tag}`
    const e = `er-e-${tag}`
    await setEntries(layout, (list) =>
      list.push(
        entry(a, 'pending', 3 * day),
        entry(b, 'failed', -day, { error: { code: 'LAKE_DISK_FULL', message: `no space writing a file of subject-${tag}` } }),
        entry(c, 'pending', 20 * day),
        entry(`er-d-${tag}`, 'done', -5 * day, { doneAt: new Date().toISOString() }),
      ),
    )
    const pipeline = await startPipeline({ config, logger: silentLogger, reportsDir: dir, port: 0, schedule: false })
    onTestFinished(() => pipeline.close())
    const alerts = (): ErasureAlert[] => hook.requests.map((r) => JSON.parse(r.body) as ErasureAlert)
    const seen = (): string[][] => alerts().map((x) => [x.erasure, x.type]).sort((p, q) => p.join().localeCompare(q.join()))

    await waitFor(() => hook.requests.length >= 2, { timeoutMs: 20_000 })
    expect(seen()).toEqual([[a, 'erasure.due'], [b, 'erasure.overdue']])
    const first = alerts().find((x) => x.erasure === b)!
    expect(first).toMatchObject({ subject: 'user', status: 'failed', error: { code: 'LAKE_DISK_FULL' } })
    expect(Date.parse(first.deadline)).toBeLessThan(Date.now())
    expect(first.dueInSeconds).toBeLessThan(0)
    for (const r of hook.requests) {
      expect(r.method).toBe('POST')
      expect(r.body).not.toContain('subject-hash-')
      expect(r.body).not.toContain('matched-hash-')
      expect(r.body).not.toContain(`subject-${tag}`)
    }

    // C becomes due: one more alert; A and B, checked every 100 ms meanwhile, are not alerted again.
    await setEntries(layout, (list) => (list.find((x) => x.id === c)!.deadline = new Date(Date.now() + 2 * day).toISOString()))
    await waitFor(() => hook.requests.length >= 3, { timeoutMs: 20_000 })
    // A becomes overdue, B is done (no alert for that), then a new overdue erasure E.
    await setEntries(layout, (list) => {
      list.find((x) => x.id === a)!.deadline = new Date(Date.now() - 60_000).toISOString()
      Object.assign(list.find((x) => x.id === b)!, { status: 'done', doneAt: new Date().toISOString() })
    })
    await waitFor(() => hook.requests.length >= 4, { timeoutMs: 20_000 })
    await setEntries(layout, (list) => list.push(entry(e, 'pending', -day)))
    await waitFor(() => hook.requests.length >= 5, { timeoutMs: 20_000 })
    expect(seen()).toEqual([[a, 'erasure.due'], [a, 'erasure.overdue'], [b, 'erasure.overdue'], [c, 'erasure.due'], [e, 'erasure.overdue']])
    await pipeline.close()
    expect(hook.requests).toHaveLength(5)
  })
})
