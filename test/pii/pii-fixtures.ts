import { createWriteStream } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect, onTestFinished } from 'vitest'
import { openDatabase, quoteIdent, quoteLiteral } from '../../core/duckdb/index.ts'
import { createLogger, type Logger } from '../../core/logger.ts'
import type { CommitLog } from '../../lake/index.ts'
import { MaskingRules, PiiKey, registerMasking, unregisterMasking, type PiiColumnRule } from '../../ingest/pii/index.ts'

export const testKeyText = 'test-masking-key-0123456789abcdef'

/** Masking for a lake in this process, removed when the test finishes. */
export function maskLake(lakeRoot: string, columns: PiiColumnRule[], keyText = testKeyText): MaskingRules {
  const rules = new MaskingRules(columns, PiiKey.fromText(keyText))
  registerMasking(lakeRoot, rules)
  onTestFinished(() => unregisterMasking(lakeRoot))
  return rules
}

/** A debug-level logger writing JSON lines to `file`, flushed and closed when the test finishes. */
export function fileLogger(file: string): { logger: Logger; flush: () => Promise<void> } {
  const stream = createWriteStream(file, { flags: 'a' })
  const logger = createLogger({ level: 'debug', destination: stream })
  const flush = (): Promise<void> => new Promise((resolve) => stream.write('', () => resolve()))
  onTestFinished(() => new Promise<void>((resolve) => stream.end(() => resolve())))
  return { logger, flush }
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name))
}

/** Text of every value DuckDB reads from a Parquet file, or from every table and view of a DuckDB file. */
async function decodedText(file: string): Promise<string | undefined> {
  if (file.endsWith('.parquet')) {
    const db = await openDatabase(':memory:')
    try {
      return JSON.stringify((await db.queryJson(`SELECT * FROM read_parquet(${quoteLiteral(file)})`)).rows)
    } finally {
      db.close()
    }
  }
  if (file.endsWith('.duckdb')) {
    const db = await openDatabase(file, { readOnly: true })
    try {
      const relations = await db.all<{ s: string; n: string }>(
        `SELECT schema_name AS s, table_name AS n FROM duckdb_tables() UNION ALL SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal`,
      )
      const parts: string[] = []
      for (const r of relations) parts.push(JSON.stringify((await db.queryJson(`SELECT * FROM ${quoteIdent(r.s)}.${quoteIdent(r.n)}`)).rows))
      return parts.join('\n')
    } finally {
      db.close()
    }
  }
  return undefined
}

export interface PlaintextHit {
  file: string
  value: string
  via: 'bytes' | 'duckdb'
}

/**
 * Every place a plaintext value shows up under `dirs` or in `files`: in the raw bytes of every file, and in
 * what DuckDB decodes from every Parquet and DuckDB file (compressed pages and dictionaries included).
 */
export async function findPlaintext(values: string[], dirs: string[], files: string[] = []): Promise<PlaintextHit[]> {
  const hits: PlaintextHit[] = []
  const all = [...files]
  for (const dir of dirs) all.push(...(await filesUnder(dir)))
  for (const file of all) {
    const bytes = await readFile(file).catch(() => undefined)
    if (!bytes) continue
    for (const value of values) if (bytes.includes(Buffer.from(value, 'utf8'))) hits.push({ file, value, via: 'bytes' })
    const decoded = await decodedText(file)
    if (decoded) for (const value of values) if (decoded.includes(value)) hits.push({ file, value, via: 'duckdb' })
  }
  return hits
}

export async function parquetFilesUnder(dir: string): Promise<string[]> {
  return (await filesUnder(dir)).filter((f) => f.endsWith('.parquet'))
}

/** After a failed rewrite: the log did not move, the same files are active and on disk, and no temp file is left. */
export async function expectLakeUnchanged(lake: string, log: CommitLog, version: number, activeBefore: string[]): Promise<void> {
  await log.refresh()
  expect(log.latestVersion).toBe(version)
  expect([...log.activeFiles().keys()]).toEqual(activeBefore)
  const onDisk = (await readdir(join(lake, 'raw'), { recursive: true })).map(String).filter((n) => n.endsWith('.parquet'))
  expect(onDisk.map((n) => `raw/${n}`)).toEqual(activeBefore)
  expect((await readdir(join(lake, '_tmp'))).filter((n) => n.endsWith('.parquet'))).toEqual([])
}
