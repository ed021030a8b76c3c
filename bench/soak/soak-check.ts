import { setTimeout as sleep } from 'node:timers/promises'
import { openSnapshotForSql, publish } from '../../warehouse/index.ts'
import type { SoakEvents } from './soak-events.ts'
import type { SoakPipeline } from './soak-pipeline.ts'
import type { SoakSource, SourceFingerprint } from './soak-source.ts'

export interface SoakCheck {
  ok: boolean
  line: string
}

/**
 * A month of maintenance must not lose or double anything: once ingest has landed every event produced,
 * the exported tables are exported and published once more, and the snapshot's current state must equal
 * Postgres (rows and column sums of both tables), and every produced event must have landed.
 */
export async function checkSoakResult(p: { pipeline: SoakPipeline; source: SoakSource; events: SoakEvents; timeoutMs: number }): Promise<SoakCheck> {
  const { pipeline, events } = p
  const deadline = Date.now() + p.timeoutMs
  const landed = (): number => {
    const stats = pipeline.ingest.stats()
    return stats.rowsLanded + stats.tombstones + stats.deadLetters
  }
  // Polls the ingest's own counters; the flush age (10 s by default) bounds how long this takes.
  while (landed() < events.produced && Date.now() < deadline) await sleep(250)
  const run = await pipeline.run('export:crm')
  await publish({ lakeRoot: pipeline.lakeRoot, warehouse: pipeline.config.warehouse, logger: pipeline.logger })
  const expected = await p.source.fingerprint()
  const db = await openSnapshotForSql(pipeline.warehousePath)
  let actual: SourceFingerprint
  try {
    const rows = await db.all<Record<keyof SourceFingerprint, bigint | number | null>>(
      `SELECT (SELECT count(*) FROM crm.accounts) AS accounts, (SELECT sum(visits) FROM crm.accounts) AS visits,
              (SELECT count(*) FROM crm.products) AS products, (SELECT sum(stock) FROM crm.products) AS stock`,
    )
    const row = rows[0]!
    actual = { accounts: Number(row.accounts), visits: Number(row.visits), products: Number(row.products), stock: Number(row.stock) }
  } finally {
    db.close()
  }
  const problems: string[] = []
  if (run.status !== 'succeeded') problems.push(`final export ${run.status}: ${run.error?.code} ${run.error?.message}`)
  for (const key of Object.keys(expected) as (keyof SourceFingerprint)[]) {
    if (expected[key] !== actual[key]) problems.push(`${key}: Postgres ${expected[key]}, snapshot ${actual[key]}`)
  }
  if (landed() !== events.produced) problems.push(`events: ${events.produced} produced, ${landed()} landed`)
  const summary = `accounts ${actual.accounts} rows, products ${actual.products} rows, ${landed()} of ${events.produced} events landed`
  return problems.length === 0
    ? { ok: true, line: `check: snapshot equals Postgres and every event landed (${summary})` }
    : { ok: false, line: `check FAILED: ${problems.join('; ')}` }
}
