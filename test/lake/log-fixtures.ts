// Builds long commit logs fast by writing commit files directly (no fsync), plus the model of what they
// mean, computed here and not by lake/, so tests compare the log's answers with an independent truth.
import { Writable } from 'node:stream'
import { mkdir, writeFile } from 'node:fs/promises'
import { createLogger, type Logger } from '../../core/logger.ts'
import { CommitLog, LakeLayout, type Commit, type CommitDraft, type LakeFile } from '../../lake/index.ts'

export const tables = ['t0', 't1', 't2'] as const
const minuteMs = 60_000

/** What the generated history leaves: active files, latest watermark positions, every commit's key. */
export class HistoryModel {
  readonly active = new Map<string, LakeFile>()
  readonly raw = new Map<string, string[]>(tables.map((t) => [t, []]))
  readonly compacted = new Map<string, string>()
  readonly positions = new Map<string, string>()
  readonly removedAt = new Map<string, number>()

  constructor(readonly startMs: number) {}

  /**
   * Commit `version` of a busy lake: change files land for three tables in turn; every tenth commit
   * compacts a table's raw files and its previous compacted file into one, so the active set stays small.
   */
  draft(version: number): CommitDraft {
    const table = tables[version % tables.length]!
    if (version % 10 === 9) {
      const inputs = [...this.raw.get(table)!, ...(this.compacted.has(table) ? [this.compacted.get(table)!] : [])]
      const out = file(`compacted/s/${table}/c${version}.parquet`, table, 'compaction')
      this.raw.set(table, [])
      this.compacted.set(table, out.path)
      return { kind: 'compaction', runId: `c${version}`, idempotencyKey: `compaction:c${version}`, add: [out], remove: inputs, info: { compactedFrom: { [out.path]: inputs } } }
    }
    const out = file(`raw/changes/s/${table}/f${version}.parquet`, table, 'changes')
    this.raw.get(table)!.push(out.path)
    const key = `kafka:topic:${tables.indexOf(table)}`
    return {
      kind: 'changes',
      runId: 'ingest',
      idempotencyKey: `changes:topic:${tables.indexOf(table)}:${version}-${version}`,
      add: [out],
      watermarks: [{ key, service: 's', table, kind: 'kafka-offset', position: String(version), asOf: new Date(this.startMs + version * minuteMs).toISOString() }],
    }
  }

  /** Folds a commit into the model (its own bookkeeping, independent of lake/). */
  record(commit: Pick<Commit, 'version' | 'add' | 'remove' | 'watermarks' | 'committedAt'>): void {
    for (const path of commit.remove) {
      this.active.delete(path)
      this.removedAt.set(path, Date.parse(commit.committedAt))
    }
    for (const f of commit.add) this.active.set(f.path, f)
    for (const mark of commit.watermarks) this.positions.set(mark.key, mark.position!)
  }
}

function file(path: string, table: string, origin: LakeFile['origin']): LakeFile {
  return { path, service: 's', table, origin, rows: 1, bytes: 1 }
}

/** Writes commits `from`..`to` (exclusive) straight into `_log/`, one minute apart from `model.startMs`. */
export async function writeHistory(root: string, model: HistoryModel, from: number, to: number, options: { formatFile?: boolean } = {}): Promise<void> {
  const layout = new LakeLayout(root)
  await mkdir(layout.logDir, { recursive: true })
  if (options.formatFile ?? true) await writeFile(layout.formatFile, JSON.stringify({ formatVersion: 1, createdAt: new Date(model.startMs).toISOString() }))
  const batch: Promise<void>[] = []
  for (let version = from; version < to; version++) {
    const d = model.draft(version)
    const commit: Commit = {
      version,
      committedAt: new Date(model.startMs + version * minuteMs).toISOString(),
      kind: d.kind,
      runId: d.runId,
      ...(d.idempotencyKey ? { idempotencyKey: d.idempotencyKey } : {}),
      add: d.add ?? [],
      remove: d.remove ?? [],
      watermarks: d.watermarks ?? [],
      ...(d.info ? { info: d.info } : {}),
    }
    model.record(commit)
    batch.push(writeFile(layout.commitFile(version), JSON.stringify(commit)))
    if (batch.length >= 200) await Promise.all(batch.splice(0))
  }
  await Promise.all(batch)
}

/** Commits `from`..`to` (exclusive) through the public API, with the model's drafts. */
export async function commitHistory(log: CommitLog, model: HistoryModel, from: number, to: number): Promise<void> {
  for (let version = from; version < to; version++) {
    const { commit } = await log.commit(model.draft(version))
    if (commit.version !== version) throw new Error(`expected version ${version}, committed ${commit.version}`)
    model.record(commit)
  }
}

/** A debug-level logger whose JSON records the test can read. */
export function capturingLogger(): { logger: Logger; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = []
  const destination = new Writable({ write: (chunk, _e, done) => (records.push(JSON.parse(String(chunk))), done()) })
  return { logger: createLogger({ level: 'debug', destination }), records }
}

export function sortedKeys(map: Map<string, unknown>): string[] {
  return [...map.keys()].sort()
}
