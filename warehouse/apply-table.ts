import { quoteIdent, quoteLiteral, type Database } from '../core/duckdb/index.ts'
import { CommitLog } from '../lake/index.ts'
import { keyMatch, latestPerKeySql, mergeStagedSql, readParquetSql, replaceStateSql, stateIsNewerSql } from '../transform/merge/index.ts'
import { tierHistory } from './history-tiers.ts'
import { absoluteIn, currentStateSelect, foldDeltaAtShare, liveFilterSql, newTableFile, readFilesSql, stateRelationSql, writeTableFile, type TableFiles } from './table-files.ts'
import type { TablePlan } from './table-plan.ts'
import type { WarehouseConfig } from './warehouse-config.ts'

async function countOf(db: Database, relation: string): Promise<number> {
  return Number((await db.all<{ n: bigint }>(`SELECT count(*) AS n FROM ${relation}`))[0]?.n ?? 0n)
}

async function columnsOf(db: Database, relation: string): Promise<Map<string, string>> {
  const rows = await db.all<{ column_name: string; column_type: string }>(`DESCRIBE ${relation}`)
  return new Map(rows.map((row) => [row.column_name, row.column_type]))
}

/** Adds columns the staged rows have and the table lacks (schema drift, unioned by name). */
async function addMissingColumns(db: Database, table: string, staged: Map<string, string>): Promise<void> {
  const existing = await columnsOf(db, table)
  for (const [name, type] of staged) {
    if (!existing.has(name)) await db.run(`ALTER TABLE ${table} ADD COLUMN ${quoteIdent(name)} ${type}`)
  }
}

export interface TableOutput {
  warehouseDir: string
  snapshotId: number
  /** The table's files in the previous snapshot; undefined when it is rebuilt. */
  previous: TableFiles | undefined
  /** Every table file this publish writes, removed again if it fails. */
  written: string[]
}

/** Temp tables a table's merge creates; dropped when it fails part-way (the publish goes on with other tables). */
export async function dropStagingTables(db: Database): Promise<void> {
  await db.run('DROP TABLE IF EXISTS staged; DROP TABLE IF EXISTS staged_state; DROP TABLE IF EXISTS latest; DROP TABLE IF EXISTS touched; DROP TABLE IF EXISTS next_delta')
}

function writer(db: Database, plan: TablePlan, out: TableOutput): (part: 'state' | 'delta' | 'history', selectSql: string) => Promise<string> {
  return async (part, selectSql) => {
    const path = newTableFile(plan, out.snapshotId, part)
    out.written.push(path)
    await writeTableFile(db, selectSql, absoluteIn(out.warehouseDir, path))
    return path
  }
}

/**
 * Stages the plan's lake files and applies them to the table: merged on read into the previous snapshot's
 * files when the table was only added to (a new delta, a new history file), else rebuilt as one new state
 * file. Other tables' files are not touched. Returns the table's new files, or undefined when the table no
 * longer has any lake file.
 */
export async function applyTable(db: Database, lakeRoot: string, plan: TablePlan, warehouse: WarehouseConfig, out: TableOutput): Promise<{ rows: number; files?: TableFiles }> {
  if (plan.files.length === 0) return { rows: 0 }
  await stageFiles(db, lakeRoot, plan)
  const stagedColumns = await columnsOf(db, 'staged')
  const n = await countOf(db, 'staged')
  const previous = out.previous
  const mergeable = previous !== undefined && plan.kind !== 'export-full' && previous.kind === plan.kind && previous.key.join('\0') === plan.key.join('\0')
  return mergeable ? mergeOnRead(db, plan, warehouse, out, previous, stagedColumns, n) : rebuildState(db, plan, warehouse, out, stagedColumns, n)
}

/** Creates temp table `staged`: the plan's lake files, exports with `_cp_seq` / `_cp_run_id` to order their runs. */
async function stageFiles(db: Database, lakeRoot: string, plan: TablePlan): Promise<void> {
  const layout = new CommitLog(lakeRoot).layout
  const seqValues = plan.files.map((f) => `(${quoteLiteral(layout.absolute(f.path))}, ${plan.seq.get(f.path) ?? 0}, ${quoteLiteral(f.runId ?? '')})`).join(', ')
  const inFileSeq = plan.files.some((f) => f.columns?.some((c) => c.name === '_cp_seq'))
  const raw = plan.kind === 'changes'
    ? `SELECT * FROM ${readParquetSql(plan.files.map((f) => layout.absolute(f.path)))}`
    : inFileSeq
    // Compacted export files carry each row's `_cp_seq` / `_cp_run_id` (their inputs' commit and run).
    ? `SELECT r.* EXCLUDE (filename, _cp_seq, _cp_run_id), coalesce(r._cp_seq, m.seq) AS _cp_seq, coalesce(r._cp_run_id, m.run_id) AS _cp_run_id
       FROM read_parquet([${plan.files.map((f) => quoteLiteral(layout.absolute(f.path))).join(', ')}], union_by_name = true, hive_partitioning = false, filename = true) r
       JOIN (VALUES ${seqValues}) m(file, seq, run_id) ON r.filename = m.file`
    : `SELECT r.* EXCLUDE (filename), m.seq AS _cp_seq, m.run_id AS _cp_run_id
       FROM read_parquet([${plan.files.map((f) => quoteLiteral(layout.absolute(f.path))).join(', ')}], union_by_name = true, hive_partitioning = false, filename = true) r
       JOIN (VALUES ${seqValues}) m(file, seq, run_id) ON r.filename = m.file`
  await db.run(`CREATE OR REPLACE TEMP TABLE staged AS ${raw}`)
}

/** The state's rows whose key is among `latest`'s: key, version and liveness (`_cp_live`) columns only. */
function touchedRowsSql(warehouseDir: string, previous: TableFiles, plan: TablePlan, softDeletes: boolean): string {
  const versions = plan.kind === 'changes' ? ['_cp_source_pos', '_cp_offset'] : ['_cp_seq']
  const columns = [...plan.key, ...versions].map(quoteIdent).join(', ')
  const live = `(${liveFilterSql(previous, softDeletes)}) AS _cp_live`
  const fromFile = (path: string, alias: string) => `SELECT ${columns}, ${live} FROM ${readFilesSql([absoluteIn(warehouseDir, path)])} ${alias} SEMI JOIN latest l ON ${keyMatch(alias, 'l', plan.key)}`
  if (!previous.delta) return fromFile(previous.state, 'b')
  return `WITH d AS (${fromFile(previous.delta, 'd')}), b AS (${fromFile(previous.state, 'b')})
    SELECT * FROM d UNION ALL SELECT b.* FROM b ANTI JOIN d ON ${keyMatch('b', 'd', plan.key)}`
}

/**
 * Merge-on-read: the newest staged version per key that is newer than the table's state goes into the next
 * delta (the previous delta's other keys carried over); the state file stays as it is. Once the delta holds
 * `foldDeltaAtShare` of the state's rows it is folded into a new state file. The staged rows become one more
 * history file, kept in size tiers. What this writes follows the change, not the table.
 */
async function mergeOnRead(db: Database, plan: TablePlan, warehouse: WarehouseConfig, out: TableOutput, previous: TableFiles, stagedColumns: Map<string, string>, n: number): Promise<{ rows: number; files: TableFiles }> {
  const write = writer(db, plan, out)
  const previousDelta = previous.delta ? readFilesSql([absoluteIn(out.warehouseDir, previous.delta)]) : undefined
  const stateColumns = [...new Set([...previous.stateColumns, ...stagedColumns.keys()])]
  const next: TableFiles = { ...previous, stateColumns, history: [] }
  const stagedLive = liveFilterSql({ kind: plan.kind, stateColumns: [...stagedColumns.keys()] }, warehouse.softDeletes)
  // Live rows move by the keys this publish changes: their live rows in the state out, their new versions' in.
  let replacedLive = 0
  let addedLive: number
  if (plan.key.length > 0) {
    await db.run(`CREATE OR REPLACE TEMP TABLE latest AS ${latestPerKeySql('staged', plan.key, plan.kind)}`)
    // The state's rows for the changed keys, read once and only in the columns needed to compare versions and
    // liveness: the one pass over the state file a merge makes.
    await db.run(`CREATE OR REPLACE TEMP TABLE touched AS ${touchedRowsSql(out.warehouseDir, previous, plan, warehouse.softDeletes)}`)
    // Replays and out-of-order versions: the state already holds something at least as new.
    await db.run(`DELETE FROM latest l USING touched s WHERE ${keyMatch('s', 'l', plan.key)} AND ${stateIsNewerSql(plan.kind)}`)
    replacedLive = await countOf(db, `touched s SEMI JOIN latest l ON ${keyMatch('s', 'l', plan.key)} WHERE s._cp_live`)
    addedLive = await countOf(db, `latest WHERE ${stagedLive}`)
    await db.run('DROP TABLE touched')
    const carried = previousDelta ? `SELECT p.* FROM ${previousDelta} p ANTI JOIN latest l ON ${keyMatch('p', 'l', plan.key)} UNION ALL BY NAME ` : ''
    await db.run(`CREATE OR REPLACE TEMP TABLE next_delta AS ${carried}SELECT * FROM latest; DROP TABLE latest`)
  } else {
    // Without a key (integration events) the table is append-only: the delta is every row since the fold.
    addedLive = await countOf(db, `staged WHERE ${stagedLive}`)
    await db.run(`CREATE OR REPLACE TEMP TABLE next_delta AS ${previousDelta ? `SELECT * FROM ${previousDelta} UNION ALL BY NAME ` : ''}SELECT * FROM staged`)
  }
  const deltaRows = await countOf(db, 'next_delta')
  const stateRows = previous.stateRows ?? (await countOf(db, readFilesSql([absoluteIn(out.warehouseDir, previous.state)])))
  if (deltaRows > stateRows * foldDeltaAtShare) {
    const folded = stateRelationSql(out.warehouseDir, previous, 'next_delta')
    next.state = await write('state', folded)
    next.stateRows = await countOf(db, `(${folded})`)
    delete next.delta
    delete next.deltaRows
  } else {
    next.delta = await write('delta', 'SELECT * FROM next_delta')
    next.deltaRows = deltaRows
    next.stateRows = stateRows
  }
  await db.run('DROP TABLE next_delta')
  next.history = await tierHistory(db, out.warehouseDir, [...previous.history, await write('history', 'SELECT * FROM staged')], (sql) => write('history', sql))
  await db.run('DROP TABLE staged')
  next.historyRows = previous.historyRows + n
  next.rows = previous.rows - replacedLive + addedLive
  return { rows: n, files: next }
}

/** Rebuilds the table's state as one file: the first publish, full exports, removed files, a changed key or kind. */
async function rebuildState(db: Database, plan: TablePlan, warehouse: WarehouseConfig, out: TableOutput, stagedColumns: Map<string, string>, n: number): Promise<{ rows: number; files: TableFiles }> {
  const history = 'staged_history'
  const state = 'staged_state'
  const previous = out.previous
  if (previous) {
    await db.run(`CREATE OR REPLACE TEMP TABLE ${state} AS ${stateRelationSql(out.warehouseDir, previous)}`)
    await addMissingColumns(db, state, stagedColumns)
  } else {
    await db.run(`CREATE OR REPLACE TEMP TABLE ${state} AS SELECT * FROM staged LIMIT 0`)
  }
  const target = { history, state, key: plan.key, kind: plan.kind }
  // Without a key (e.g. integration events) there is nothing to merge: the table is append-only.
  const statements = plan.kind === 'export-full' ? replaceStateSql(target)
    : plan.key.length === 0 ? [`INSERT INTO ${state} BY NAME SELECT * FROM staged`]
    : mergeStagedSql(target)
  for (const sql of statements) await db.run(sql)
  const write = writer(db, plan, out)
  // A rebuilt full export staged one run (one `_cp_seq`): its state is exactly its history, so one file is both.
  const oneRun = plan.kind === 'export-full' && !previous && Number((await db.all<{ n: bigint }>('SELECT count(DISTINCT _cp_seq) AS n FROM staged'))[0]?.n ?? 0n) <= 1
  let statePath: string | undefined
  let historyFiles: string[]
  if (oneRun) {
    statePath = await write('state', `SELECT * FROM ${state}`)
    historyFiles = [statePath]
  } else {
    historyFiles = [...(previous?.history ?? []), await write('history', 'SELECT * FROM staged')]
  }
  await db.run('DROP TABLE staged')
  historyFiles = await tierHistory(db, out.warehouseDir, historyFiles, (sql) => write('history', sql))
  statePath ??= await write('state', `SELECT * FROM ${state}`)
  const stateColumns = [...(await columnsOf(db, state)).keys()]
  const files: TableFiles = {
    service: plan.service, table: plan.table, kind: plan.kind, key: plan.key, state: statePath, history: historyFiles,
    rows: 0, historyRows: (previous?.historyRows ?? 0) + n, stateColumns, stateRows: await countOf(db, state),
  }
  const live = currentStateSelect(files, state, warehouse.softDeletes)
  files.rows = Number((await db.all<{ n: bigint }>(`SELECT count(*) AS n FROM (${live})`))[0]?.n ?? 0n)
  await db.run(`DROP TABLE ${state}`)
  return { rows: n, files }
}

