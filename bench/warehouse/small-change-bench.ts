/**
 * Publish cost when one small table changed, at two warehouse sizes:
 *   node --import tsx bench/warehouse/small-change-bench.ts [--sizes 1000000,5000000] [--repeats 3]
 * For each size: a lake with one big full-export table (`--sizes` rows) and one small incremental table; a
 * first publish, then `--repeats` publishes each after one changed row in the small table. Prints the median
 * publish time and the bytes each publish wrote (its snapshot file plus the table files it added), next to the
 * size of the unchanged table's files. Target: time and bytes do not grow with the unchanged size.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDatabase } from '../../core/duckdb/index.ts'
import { CommitLog, writeParquetToLake, type LakeFile } from '../../lake/index.ts'
import { publish, SnapshotStore, type SnapshotManifest } from '../../warehouse/index.ts'
import { warehouseDefaults, type WarehouseConfig } from '../../warehouse/warehouse-config.ts'
import { tableFilePaths } from '../../warehouse/table-files.ts'

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1]! : fallback
}
const sizes = arg('sizes', '1000000,5000000').split(',').map(Number)
const repeats = Number(arg('repeats', '3'))
const partRows = 1_000_000

async function fileBytes(dir: string, paths: string[]): Promise<number> {
  let total = 0
  for (const path of paths) total += (await stat(join(dir, ...path.split('/')))).size
  return total
}

function tablePaths(manifest: SnapshotManifest, table?: string): string[] {
  return [...new Set(Object.entries(manifest.tableFiles ?? {}).filter(([id]) => !table || id === table).flatMap(([, t]) => tableFilePaths(t)))]
}

async function measure(bigRows: number): Promise<Record<string, string>> {
  const root = await mkdtemp(join(tmpdir(), 'coldpipe-small-change-'))
  try {
    const lakeRoot = join(root, 'lake')
    const log = await CommitLog.open(lakeRoot)
    const gen = await openDatabase(':memory:', { threads: 2, memoryLimit: '1GB' })
    const add: LakeFile[] = []
    for (let from = 0, part = 0; from < bigRows; from += partRows, part++) {
      const path = log.layout.exportFile({ service: 'ordering', table: 'orders', runId: 'bench', part })
      const count = Math.min(partRows, bigRows - from)
      const written = await writeParquetToLake(gen, log.layout, `SELECT (${from} + range)::BIGINT AS id, md5(range::VARCHAR) AS note, (range % 1000)::INTEGER AS qty FROM range(${count})`, path)
      add.push({ path, service: 'ordering', table: 'orders', origin: 'export', rows: count, bytes: written.bytes, mode: 'full', runId: 'bench', part })
    }
    await log.commit({ kind: 'export', runId: 'bench', add })
    const changeSmall = async (run: number) => {
      const path = log.layout.exportFile({ service: 'catalog', table: 'items', runId: `r${run}`, part: 0 })
      const sql = run === 0 ? 'SELECT range::INTEGER AS id, 1 AS v FROM range(100)' : `SELECT ${run % 100}::INTEGER AS id, ${run} AS v`
      const written = await writeParquetToLake(gen, log.layout, sql, path)
      await log.commit({ kind: 'export', runId: `r${run}`, add: [{ path, service: 'catalog', table: 'items', origin: 'export', rows: run === 0 ? 100 : 1, bytes: written.bytes, mode: 'incremental', key: ['id'], runId: `r${run}`, part: 0 }] })
    }
    await changeSmall(0)
    const warehouse: WarehouseConfig = { ...warehouseDefaults, path: join(root, 'wh'), softDeletes: false }
    const store = new SnapshotStore(warehouse.path)
    const start = performance.now()
    const first = await publish({ lakeRoot, warehouse })
    const firstMs = performance.now() - start
    if (!first.published) throw new Error('first publish published nothing')
    let previous = first.manifest
    const times: number[] = []
    const bytes: number[] = []
    for (let run = 1; run <= repeats; run++) {
      await changeSmall(run)
      const t0 = performance.now()
      const result = await publish({ lakeRoot, warehouse })
      times.push(performance.now() - t0)
      if (!result.published) throw new Error('publish published nothing')
      const before = new Set(tablePaths(previous))
      const added = tablePaths(result.manifest).filter((p) => !before.has(p))
      bytes.push((await stat(store.databasePath(result.manifest.id))).size + (await fileBytes(warehouse.path, added)))
      previous = result.manifest
    }
    gen.close()
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
    return {
      'unchanged rows': bigRows.toLocaleString('en-US'),
      'unchanged table files': `${((await fileBytes(warehouse.path, tablePaths(previous, 'ordering.orders'))) / 1e6).toFixed(1)} MB`,
      'first publish': `${(firstMs / 1000).toFixed(2)} s`,
      'small-change publish (median)': `${(median(times) / 1000).toFixed(2)} s`,
      'bytes written per small-change publish (median)': `${(median(bytes) / 1e3).toFixed(0)} kB`,
    }
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}

const rows: Record<string, string>[] = []
for (const size of sizes) rows.push(await measure(size))
const keys = Object.keys(rows[0]!)
process.stdout.write(`| measure | ${rows.map((r) => r['unchanged rows']).join(' | ')} |\n|---|${rows.map(() => '---:').join('|')}|\n`)
for (const key of keys.slice(1)) process.stdout.write(`| ${key} | ${rows.map((r) => r[key]).join(' | ')} |\n`)
