import { describe, expect, it, onTestFinished } from 'vitest'
import { openDatabase, quoteLiteral, type Database } from '../../core/duckdb/index.ts'
import { silentLogger } from '../../core/logger.ts'
import { BatchLander } from '../../ingest/changes/batch-lander.ts'
import type { ChangeRecord } from '../../ingest/changes/change-record.ts'
import { eraseSubject, MaskingRules, PiiKey, registerMasking, unregisterMasking } from '../../ingest/pii/index.ts'
import { collectStatus, renderStatus } from '../../jobs/status.ts'
import { CommitLog } from '../../lake/index.ts'
import { updateErasureList } from '../../lake/erasure/index.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { testKeyText } from './pii-fixtures.ts'

function event(topic: string, offset: number, buyerId: number): ChangeRecord {
  return {
    topic,
    partition: 0,
    offset: String(offset),
    key: null,
    value: Buffer.from(JSON.stringify({ id: `e${offset}`, type: 'OrderPaid', occurredAt: '2026-01-01T00:00:00Z', payload: { orderId: offset, buyerId } })),
    headers: {},
    timestamp: String(1_767_225_600_000 + offset),
  }
}

async function eventRows(lake: string): Promise<{ buyer: number; order: number }[]> {
  const log = await CommitLog.open(lake)
  const files = [...log.activeFiles().values()].map((f) => quoteLiteral(log.layout.absolute(f.path)))
  if (files.length === 0) return []
  const db = await openDatabase(':memory:')
  try {
    const rows = await db.all<{ b: string; o: string }>(`SELECT payload->>'buyerId' AS b, payload->>'orderId' AS o FROM read_parquet([${files.join(', ')}], union_by_name = true, hive_partitioning = false) ORDER BY o::INTEGER`)
    return rows.map((r) => ({ buyer: Number(r.b), order: Number(r.o) }))
  } finally {
    db.close()
  }
}

describe('the erasure list', () => {
  it('matches integration events by a payload field: erased from landed files, kept out of later batches', async () => {
    const lake = await tempDir()
    const rules = new MaskingRules([], PiiKey.fromText(testKeyText), {
      keyEnv: 'X', columns: [], erasureDeadlineDays: 30, erasureWarnDays: 7,
      subjects: { buyer: { keys: ['shop.events.buyerId'] } },
    })
    registerMasking(lake, rules)
    onTestFinished(() => unregisterMasking(lake))
    const db: Database = await openDatabase(':memory:', { errorCode: 'INGEST_FAILED' })
    onTestFinished(() => db.close())
    const lander = new BatchLander([db], await CommitLog.open(lake), 'run-test', silentLogger)
    const topic = 'shop.events'
    const config = { topic, format: 'integration-event' as const, service: 'shop' }
    await lander.land(config, 0, [1, 2, 3, 4].map((i) => event(topic, i, i % 2 ? 7 : 8)))

    const receipt = await eraseSubject({ lakeRoot: lake, rules, subject: 'buyer', value: '7' })
    expect(receipt.lake.rowsRemoved).toEqual({ 'shop.events': 2 })
    expect(await eventRows(lake)).toEqual([{ buyer: 8, order: 2 }, { buyer: 8, order: 4 }])

    const outcome = await lander.land(config, 0, [5, 6, 7].map((i) => event(topic, i, i === 6 ? 8 : 7)))
    expect(outcome.rows).toBe(1)
    expect(await eventRows(lake)).toEqual([{ buyer: 8, order: 2 }, { buyer: 8, order: 4 }, { buyer: 8, order: 6 }])
    // A batch of only the erased subject's rows commits its offsets and no file.
    const before = (await CommitLog.open(lake)).activeFiles().size
    expect((await lander.land(config, 0, [event(topic, 8, 7)])).rows).toBe(0)
    const log = await CommitLog.open(lake)
    expect(log.activeFiles().size).toBe(before)
    expect(log.watermarks().get(`kafka:${topic}:0`)?.position).toBe('8')
  })

  it('status counts erasures and alerts on those due soon or past their deadline', async () => {
    const lake = await tempDir()
    const log = await CommitLog.open(lake)
    const now = new Date('2026-06-30T12:00:00Z')
    const entry = (id: string, status: 'pending' | 'done' | 'failed', deadline: string) => ({ id, subject: 'user', subjectHash: 'h', keyId: 'k', requestedAt: '2026-06-01T00:00:00Z', deadline, status, matches: {} })
    await updateErasureList(log.layout, (doc) => {
      doc.entries.push(entry('er-late', 'failed', '2026-06-28T00:00:00Z'), entry('er-soon', 'pending', '2026-07-03T00:00:00Z'), entry('er-later', 'pending', '2026-07-30T00:00:00Z'), entry('er-done', 'done', '2026-06-01T00:00:00Z'))
    })
    const status = await collectStatus({ lakeRoot: lake, jobs: [], now })
    expect(status.erasures).toMatchObject({ pending: 2, failed: 1, done: 1, overdue: ['er-late'], dueSoon: ['er-soon'], keptOut: 1 })
    const text = renderStatus(status)
    expect(text).toMatch(/OVERDUE by 3d\s+er-late/)
    expect(text).toMatch(/DUE in 2d\s+er-soon/)
    expect(text).toMatch(/due in 29d\s+er-later/)
    expect(text).toContain('ALERT: 1 erasure(s) past the deadline')
    expect(text).not.toContain('er-done (')
  })
})
