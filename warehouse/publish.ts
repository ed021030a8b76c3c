import { createHash } from 'node:crypto'
import { copyFile, rm } from 'node:fs/promises'
import { openDatabase, quoteIdent, quoteLiteral, type Database } from '../core/duckdb/index.ts'
import { ColdpipeError, messageOf } from '../core/errors.ts'
import { silentLogger, type Logger } from '../core/logger.ts'
import { CommitLog, type LakeFile } from '../lake/index.ts'
import { liveRowPredicate, mergeStagedSql, readParquetSql, replaceStateSql, type MergeKind } from '../transform/merge/index.ts'
import { buildModels } from './build-models.ts'
import { acquirePublishLock } from './publish-lock.ts'
import { writeMetadata } from './metadata.ts'
import { SnapshotStore, type SnapshotManifest } from './snapshot-store.ts'
import type { WarehouseConfig } from './warehouse-config.ts'

export interface PublishOptions {
  lakeRoot: string
  warehouse: WarehouseConfig
  /** Folder of read models (`<name>.sql`). */
  models?: string
  logger?: Logger
  now?: () => Date
  /** Publish even when the lake has not changed since the last snapshot. */
  force?: boolean
  /** Test hook: called at named points of the build, may throw to simulate a crash. */
  failpoint?: (point: 'built' | 'before-publish') => void | Promise<void>
}

export type PublishResult = { published: true; manifest: SnapshotManifest } | { published: false; reason: string; current?: SnapshotManifest }

interface TablePlan {
  service: string
  table: string
  kind: MergeKind
  key: string[]
  rebuild: boolean
  files: LakeFile[]
  /** Commit version per file path, orders export runs. */
  seq: Map<string, number>
}

const stateSchema = '_cp_state'

function tableId(file: { service: string; table: string }): string {
  return `${file.service}.${file.table}`
}

function kindOf(file: LakeFile): MergeKind {
  if (file.origin === 'export') return file.mode === 'incremental' ? 'export-incremental' : 'export-full'
  return 'changes'
}

/** Which files each table must read to go from the lake at `fromVersion` to `toVersion`. */
export function planTables(log: CommitLog, fromVersion: number | undefined, toVersion: number): TablePlan[] {
  const now = log.activeFiles(toVersion)
  const before = fromVersion === undefined ? new Map<string, LakeFile>() : log.activeFiles(fromVersion)
  const addedAt = new Map<string, number>()
  for (const commit of log.all().slice(0, toVersion + 1)) for (const file of commit.add) addedAt.set(file.path, commit.version)
  // Compaction commits record which inputs each output replaces; an output whose inputs were all merged
  // already holds nothing new.
  const compactedFrom = new Map<string, string[]>()
  for (const commit of log.all().slice(0, toVersion + 1)) {
    const sources = (commit.info?.compactedFrom ?? {}) as Record<string, string[]>
    for (const [out, inputs] of Object.entries(sources)) compactedFrom.set(out, inputs)
  }
  const origins = new Map<string, Set<string>>()
  for (const file of now.values()) {
    const id = tableId(file)
    origins.set(id, (origins.get(id) ?? new Set()).add(file.origin === 'export' ? 'exports' : 'change events'))
  }
  for (const [id, from] of origins) {
    if (from.size > 1) {
      throw new ColdpipeError('WAREHOUSE_PUBLISH_FAILED', `table ${id} has files from exports and from change events; a table takes rows from one path (map the change topic to another table)`, {
        context: { table: id },
      })
    }
  }
  const plans = new Map<string, TablePlan>()
  const planFor = (file: LakeFile): TablePlan => {
    const id = tableId(file)
    let plan = plans.get(id)
    if (!plan) {
      plan = { service: file.service, table: file.table, kind: kindOf(file), key: file.key ?? [], rebuild: fromVersion === undefined, files: [], seq: addedAt }
      plans.set(id, plan)
    }
    if (file.key?.length && plan.key.length === 0) plan.key = file.key
    if (file.origin === 'export') plan.kind = kindOf(file)
    return plan
  }
  for (const file of now.values()) {
    if (before.has(file.path)) continue
    const plan = planFor(file)
    const inputs = compactedFrom.get(file.path)
    if (inputs) {
      const merged = inputs.filter((path) => before.has(path)).length
      if (merged === inputs.length) continue
      if (merged > 0) plan.rebuild = true
    }
    plan.files.push(file)
  }
  for (const file of before.values()) {
    if (now.has(file.path)) continue
    const replacedByCompaction = [...compactedFrom.values()].some((inputs) => inputs.includes(file.path))
    if (!replacedByCompaction) planFor(file).rebuild = true
  }
  for (const plan of plans.values()) {
    if (plan.kind === 'export-full') plan.rebuild = true
    if (plan.rebuild) plan.files = [...now.values()].filter((file) => tableId(file) === tableId(plan))
  }
  return [...plans.values()]
}

async function tableExists(db: Database, schema: string, name: string): Promise<boolean> {
  const rows = await db.all(`SELECT 1 FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?`, [schema, name])
  return rows.length > 0
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

function maskedSelect(plan: TablePlan, columns: Map<string, string>, warehouse: WarehouseConfig): string {
  const parts: string[] = []
  for (const name of columns.keys()) {
    const rule = warehouse.pii.find((p) => p.column === `${plan.service}.${plan.table}.${name}`)
    if (!rule) parts.push(quoteIdent(name))
    else if (rule.action === 'hash') {
      if (!warehouse.piiKey) throw new ColdpipeError('CONFIG_INVALID', `warehouse.piiKey is required to hash ${rule.column}`, { context: { field: 'warehouse.piiKey' } })
      parts.push(`CASE WHEN ${quoteIdent(name)} IS NULL THEN NULL ELSE sha256(${quoteLiteral(warehouse.piiKey)} || CAST(${quoteIdent(name)} AS VARCHAR)) END AS ${quoteIdent(name)}`)
    }
  }
  return parts.join(', ')
}

async function applyTable(db: Database, lakeRoot: string, plan: TablePlan, warehouse: WarehouseConfig): Promise<{ rows: number }> {
  const layout = new CommitLog(lakeRoot).layout
  const schema = quoteIdent(plan.service)
  const history = `${schema}.${quoteIdent(`${plan.table}__history`)}`
  const state = `${stateSchema}.${quoteIdent(`${plan.service}__${plan.table}`)}`
  const current = `${schema}.${quoteIdent(plan.table)}`
  await db.run(`CREATE SCHEMA IF NOT EXISTS ${schema}; CREATE SCHEMA IF NOT EXISTS ${stateSchema}`)
  if (plan.rebuild) await db.run(`DROP VIEW IF EXISTS ${current}; DROP TABLE IF EXISTS ${current}; DROP TABLE IF EXISTS ${history}; DROP TABLE IF EXISTS ${state}`)
  if (plan.files.length === 0) return { rows: 0 }
  const seqValues = plan.files.map((f) => `(${quoteLiteral(layout.absolute(f.path))}, ${plan.seq.get(f.path) ?? 0}, ${quoteLiteral(f.runId ?? '')})`).join(', ')
  const raw = plan.kind === 'changes'
    ? `SELECT * FROM ${readParquetSql(plan.files.map((f) => layout.absolute(f.path)))}`
    : `SELECT r.* EXCLUDE (filename), m.seq AS _cp_seq, m.run_id AS _cp_run_id
       FROM read_parquet([${plan.files.map((f) => quoteLiteral(layout.absolute(f.path))).join(', ')}], union_by_name = true, hive_partitioning = false, filename = true) r
       JOIN (VALUES ${seqValues}) m(file, seq, run_id) ON r.filename = m.file`
  await db.run(`CREATE OR REPLACE TEMP TABLE staged_raw AS ${raw}`)
  const rawColumns = await columnsOf(db, 'staged_raw')
  await db.run(`CREATE OR REPLACE TEMP TABLE staged AS SELECT ${maskedSelect(plan, rawColumns, warehouse)} FROM staged_raw; DROP TABLE staged_raw`)
  const stagedColumns = await columnsOf(db, 'staged')
  const n = (await db.all<{ n: bigint }>('SELECT count(*) AS n FROM staged'))[0]?.n ?? 0n
  if (!(await tableExists(db, plan.service, `${plan.table}__history`))) {
    await db.run(`CREATE TABLE ${history} AS SELECT * FROM staged LIMIT 0; CREATE TABLE ${state} AS SELECT * FROM staged LIMIT 0`)
  } else {
    await addMissingColumns(db, history, stagedColumns)
    await addMissingColumns(db, state, stagedColumns)
  }
  await db.run(`INSERT INTO ${history} BY NAME SELECT * FROM staged`)
  const target = { history, state, key: plan.key, kind: plan.kind }
  // Without a key (e.g. integration events) there is nothing to merge: the table is append-only.
  const statements = plan.kind === 'export-full' ? replaceStateSql(target)
    : plan.key.length === 0 ? [`INSERT INTO ${state} BY NAME SELECT * FROM staged`]
    : mergeStagedSql(target)
  for (const sql of statements) await db.run(sql)
  await db.run('DROP TABLE staged')
  const stateColumns = await columnsOf(db, state)
  // Only CDC rows carry deletes; integration events (append-only) have no `_cp_op` / `_cp_deleted`.
  const hasDeletes = plan.kind === 'changes' && stateColumns.has('_cp_op') && stateColumns.has('_cp_deleted')
  const excluded = [...stateColumns.keys()].filter((c) => c.startsWith('_cp_') && !(warehouse.softDeletes && hasDeletes && c === '_cp_deleted'))
  const exclude = excluded.length ? ` EXCLUDE (${excluded.map(quoteIdent).join(', ')})` : ''
  const filter = warehouse.softDeletes || !hasDeletes ? 'true' : liveRowPredicate(plan.kind)
  const softDeleteFix = warehouse.softDeletes && hasDeletes ? ` REPLACE (coalesce(_cp_deleted, _cp_op = 'd', false) AS _cp_deleted)` : ''
  await db.run(`CREATE OR REPLACE VIEW ${current} AS SELECT *${exclude}${softDeleteFix} FROM ${state} WHERE ${filter}`)
  return { rows: Number(n) }
}

/**
 * Publishes snapshot N+1: copies snapshot N's file, applies only the lake files committed since N's
 * lake version (tables whose files were removed are rebuilt), builds read models, runs data tests, and
 * swaps the current pointer. Any failure leaves N current and removes the half-built file.
 */
export async function publish(options: PublishOptions): Promise<PublishResult> {
  const release = await acquirePublishLock(options.warehouse.path)
  try {
    return await publishLocked(options)
  } finally {
    await release()
  }
}

async function publishLocked(options: PublishOptions): Promise<PublishResult> {
  const logger = options.logger ?? silentLogger
  const now = options.now ?? (() => new Date())
  const store = new SnapshotStore(options.warehouse.path)
  const log = await CommitLog.open(options.lakeRoot)
  const previous = await store.current()
  const lakeVersion = log.latestVersion
  if (previous && previous.lakeVersion === lakeVersion && !options.force) {
    logger.info({ snapshot: previous.id, lakeVersion }, 'lake unchanged since the last snapshot; nothing published')
    return { published: false, reason: `lake unchanged since snapshot ${previous.id} (version ${lakeVersion})`, current: previous }
  }
  // Masking and soft deletes shape stored rows: when they change, every table is rebuilt from the lake.
  const shape = JSON.stringify({ pii: options.warehouse.pii, piiKey: options.warehouse.piiKey ?? null, softDeletes: options.warehouse.softDeletes })
  const configHash = createHash('sha256').update(shape).digest('hex').slice(0, 16)
  const reshaped = previous !== undefined && previous.info?.configHash !== configHash
  const plans = planTables(log, reshaped ? undefined : previous?.lakeVersion, lakeVersion)
  const buildPath = await store.newBuildPath()
  let db: Database | undefined
  try {
    if (previous && !reshaped) await copyFile(store.databasePath(previous.id), buildPath)
    db = await openDatabase(buildPath, { memoryLimit: options.warehouse.memoryLimit, threads: options.warehouse.threads, errorCode: 'WAREHOUSE_PUBLISH_FAILED' })
    const info = { configHash, filesRead: 0, rowsMerged: 0, tablesRebuilt: [] as string[], tablesMerged: [] as string[], models: [] as string[], dataTests: { passed: 0, warned: 0 } }
    for (const plan of plans) {
      const { rows } = await applyTable(db, options.lakeRoot, plan, options.warehouse)
      info.filesRead += plan.files.length
      info.rowsMerged += rows
      ;(plan.rebuild ? info.tablesRebuilt : info.tablesMerged).push(tableId(plan))
    }
    const id = (await store.nextId())
    const publishedAt = now()
    const models = await buildModels(db, options.models)
    info.models = models
    const watermarks = [...log.watermarks(lakeVersion).values()]
    const tables = await writeMetadata(db, { id, publishedAt, lakeVersion, watermarks })
    const { runDataTests } = await import('./data-tests.ts')
    info.dataTests = await runDataTests(db, { modelsDir: options.models, watermarks, now: publishedAt })
    await options.failpoint?.('built')
    await db.run('CHECKPOINT')
    db.close()
    db = undefined
    await options.failpoint?.('before-publish')
    const manifest = await store.publish(buildPath, {
      id,
      publishedAt: publishedAt.toISOString(),
      lakeVersion,
      watermarks,
      tables,
      ...(previous && !reshaped ? { basedOn: previous.id } : {}),
      info,
    })
    logger.info({ snapshot: id, lakeVersion, ...info }, 'snapshot published')
    return { published: true, manifest }
  } catch (error) {
    db?.close()
    await rm(buildPath, { force: true })
    await rm(`${buildPath}.wal`, { force: true })
    if (error instanceof ColdpipeError) throw error
    throw new ColdpipeError('WAREHOUSE_PUBLISH_FAILED', `publish failed: ${messageOf(error)}`, { cause: error })
  }
}
