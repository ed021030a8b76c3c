/**
 * Publish cost when a few rows of a big table change, at several sizes of that table:
 *   node --import tsx bench/warehouse/changed-table-bench.ts [--sizes 5000,20000,200000,1000000] [--publishes 24] [--change 20]
 * For each size and each table kind (incremental export with a key, CDC changes with a key, keyless integration
 * events): a lake holding the table, a first publish, then `--publishes` publishes each after `--change` rows
 * landed (half updates of existing keys, half new keys). Prints the median publish and its `tables` phase
 * (merging the changed table), the slowest publish, and the ratio of each size's median to the smallest size's.
 * Target (issue 13): the small-change publish follows the change, not the table: ratio ≤ 1.2.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDatabase, type Database } from '../../core/duckdb/index.ts'
import { CommitLog, writeParquetToLake, type LakeFile } from '../../lake/index.ts'
import { publish } from '../../warehouse/index.ts'
import { warehouseDefaults, type WarehouseConfig } from '../../warehouse/warehouse-config.ts'

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1]! : fallback
}
const sizes = arg('sizes', '5000,20000,200000,1000000').split(',').map(Number)
const publishes = Number(arg('publishes', '24'))
const change = Number(arg('change', '20'))
const kinds = arg('kinds', 'export-incremental,changes,events').split(',') as Kind[]
type Kind = 'export-incremental' | 'changes' | 'events'

/** Rows `from`..`from + count` of the table; `round` makes updated rows differ from their earlier versions. */
function rowsSql(kind: Kind, ids: string, round: number): string {
  const base = `SELECT id::BIGINT AS id, md5(id::VARCHAR || '-${round}') AS name, (id % 97)::INTEGER AS qty FROM (${ids})`
  if (kind === 'changes') return `SELECT *, 'u' AS _cp_op, false AS _cp_deleted, (${round} * 10000000 + id)::BIGINT AS _cp_source_pos, (${round} * 10000000 + id)::BIGINT AS _cp_offset FROM (${base})`
  return base
}

async function land(gen: Database, log: CommitLog, kind: Kind, round: number, ids: string, rows: number): Promise<void> {
  const runId = `r${round}`
  if (kind === 'export-incremental') {
    const path = log.layout.exportFile({ service: 'crm', table: 'accounts', runId, part: 0 })
    const written = await writeParquetToLake(gen, log.layout, rowsSql(kind, ids, round), path)
    const file: LakeFile = { path, service: 'crm', table: 'accounts', origin: 'export', rows, bytes: written.bytes, mode: 'incremental', key: ['id'], runId, part: 0 }
    await log.commit({ kind: 'export', runId, add: [file] })
    return
  }
  const table = kind === 'changes' ? 'accounts' : 'events'
  const path = log.layout.changeFile({ service: 'crm', table, date: '2026-11-30', topic: `crm.${table}`, partition: 0, firstOffset: BigInt(round * 10_000_000), lastOffset: BigInt(round * 10_000_000 + rows) })
  const written = await writeParquetToLake(gen, log.layout, rowsSql(kind, ids, round), path)
  const file: LakeFile = { path, service: 'crm', table, origin: 'changes', rows, bytes: written.bytes, topic: `crm.${table}`, partition: 0, ...(kind === 'changes' ? { key: ['id'] } : {}) }
  await log.commit({ kind: 'changes', runId, add: [file] })
}

async function measure(kind: Kind, size: number): Promise<{ median: number; tables: number; max: number; phases: string }> {
  const root = await mkdtemp(join(tmpdir(), 'coldpipe-changed-table-'))
  const gen = await openDatabase(':memory:', { threads: 1, memoryLimit: '1GB' })
  try {
    const lakeRoot = join(root, 'lake')
    const log = await CommitLog.open(lakeRoot)
    await land(gen, log, kind, 0, `SELECT range AS id FROM range(${size})`, size)
    const warehouse: WarehouseConfig = { ...warehouseDefaults, path: join(root, 'wh'), softDeletes: false }
    if (!(await publish({ lakeRoot, warehouse })).published) throw new Error('first publish published nothing')
    const times: number[] = []
    const tables: number[] = []
    const phases: Record<string, number[]> = {}
    let next = size
    for (let round = 1; round <= publishes; round++) {
      const updates = Math.floor(change / 2)
      // Half updates spread over the table, half new keys at its end.
      const ids = `SELECT (range * ${Math.max(1, Math.floor(size / updates))} + ${round}) % ${size} AS id FROM range(${updates}) UNION ALL SELECT ${next} + range FROM range(${change - updates})`
      next += change - updates
      await land(gen, log, kind, round, ids, change)
      const t0 = performance.now()
      const result = await publish({ lakeRoot, warehouse })
      times.push(performance.now() - t0)
      if (!result.published) throw new Error('publish published nothing')
      const phaseMs = (result.manifest.info as { phaseMs?: Record<string, number> } | undefined)?.phaseMs ?? {}
      tables.push(Number(phaseMs.tables ?? 0))
      for (const [name, ms] of Object.entries(phaseMs)) (phases[name] ??= []).push(ms)
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
    return { median: median(times), tables: median(tables), max: Math.max(...times), phases: Object.entries(phases).map(([name, ms]) => `${name} ${median(ms).toFixed(0)}`).join(', ') }
  } finally {
    gen.close()
    await rm(root, { recursive: true, force: true })
  }
}

process.stdout.write(`| kind | table rows | median publish ms | median tables phase ms | slowest publish ms | ratio to ${sizes[0]} rows | median ms per phase |\n|---|---:|---:|---:|---:|---:|---|\n`)
for (const kind of kinds) {
  let first: number | undefined
  for (const size of sizes) {
    const m = await measure(kind, size)
    first ??= m.median
    process.stdout.write(`| ${kind} | ${size.toLocaleString('en-US')} | ${m.median.toFixed(1)} | ${m.tables.toFixed(1)} | ${m.max.toFixed(1)} | ${(m.median / first).toFixed(2)} | ${m.phases} |\n`)
  }
}
