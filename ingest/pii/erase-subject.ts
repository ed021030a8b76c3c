import { randomUUID } from 'node:crypto'
import { mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import { openDatabase } from '../../core/duckdb/index.ts'
import { ColdpipeError, messageOf } from '../../core/errors.ts'
import { childLogger, silentLogger, type Logger } from '../../core/logger.ts'
import { CommitLog, writeFileAtomic } from '../../lake/index.ts'
import { receiptFile, updateErasureList, type ErasureEntry } from '../../lake/erasure/index.ts'
import type { WarehouseConfig } from '../../warehouse/index.ts'
import { eraseFromLake, resolveMatches, type LakeErasureOutcome } from './erase-lake.ts'
import type { MaskingRules } from './masking-rules.ts'
import { holdPublishLock, purgeSnapshots, type SnapshotPurge } from './purge-snapshots.ts'

export interface EraseSubjectOptions {
  lakeRoot: string
  rules: MaskingRules
  /** `pii.subjects.<subject>`. */
  subject: string
  /** The subject's identifier as the key columns hold it (text form). */
  value: string
  /** When given, a snapshot is published from the erased lake and every older one deleted. */
  warehouse?: WarehouseConfig
  models?: string
  logger?: Logger
  now?: () => Date
}

/** What an erasure did, with no personal data: the subject appears only as its HMAC. */
export interface ErasureReceipt extends Pick<ErasureEntry, 'id' | 'subject' | 'subjectHash' | 'keyId' | 'requestedAt' | 'deadline'> {
  doneAt: string
  /** Per `service.table.column`: how many distinct values identified the subject's rows. */
  matchedValues: Record<string, number>
  lake: {
    commits: number[]
    filesRewritten: { from: string; to: string | null }[]
    filesDeleted: string[]
    rowsRemoved: Record<string, number>
    deadLetterFiles: { rewritten: string[]; deleted: string[] }
    deadLettersRemoved: number
  }
  warehouse?: { snapshotPublished: number; snapshotsRemoved: number[]; tableFilesRemoved: number }
  caches: string
  keptOutAtLanding: string
  limits: string[]
}

const dayMs = 86_400_000
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * `coldpipe erase <subject> <value>`: puts the subject on the lake's erasure list (so landings keep its
 * rows out from now on), rewrites every lake file and dead-letter file holding its rows, publishes a snapshot
 * without them and deletes the older ones, then writes a receipt. A failure leaves the entry `failed` on the
 * list (still keeping rows out at landing) and a re-run finishes it.
 */
export async function eraseSubject(options: EraseSubjectOptions): Promise<ErasureReceipt> {
  const now = options.now ?? (() => new Date())
  const config = options.rules.config
  const subject = config.subjects[options.subject]
  if (!subject) {
    const known = Object.keys(config.subjects)
    throw new ColdpipeError('ERASURE_FAILED', `no erasure subject "${options.subject}" in pii.subjects (${known.length ? `configured: ${known.join(', ')}` : 'none configured'})`, {
      context: { field: 'pii.subjects', subject: options.subject },
      canRetry: false,
    })
  }
  const key = options.rules.requireKey('erasure')
  // Values are matched in the text form DuckDB renders them in, which writes UUIDs in lower case.
  const value = uuidPattern.test(options.value) ? options.value.toLowerCase() : options.value
  if (value === '') throw new ColdpipeError('ERASURE_FAILED', 'the subject value is empty', { context: { subject: options.subject }, canRetry: false })
  const subjectHash = key.hmacHex(value)
  const log = await CommitLog.open(options.lakeRoot)
  const db = await openDatabase(':memory:', { errorCode: 'LAKE_IO_FAILED' })
  let entry: ErasureEntry | undefined
  try {
    await key.loadInto(db)
    const matches = await resolveMatches(log, db, options.rules, subject, value)
    // Resume an unfinished request for the same subject rather than start its deadline again.
    entry = await updateErasureList(log.layout, (doc) => {
      const open = doc.entries.find((e) => e.subject === options.subject && e.subjectHash === subjectHash && (e.status === 'pending' || e.status === 'failed'))
      if (open) {
        for (const [column, hashes] of Object.entries(matches)) open.matches[column] = [...new Set([...(open.matches[column] ?? []), ...hashes])].sort()
        open.status = 'pending'
        delete open.error
        return structuredClone(open)
      }
      const requestedAt = now()
      const created: ErasureEntry = {
        id: `er-${requestedAt.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomUUID().slice(0, 8)}`,
        subject: options.subject,
        subjectHash,
        keyId: key.id,
        requestedAt: requestedAt.toISOString(),
        deadline: new Date(requestedAt.getTime() + config.erasureDeadlineDays * dayMs).toISOString(),
        status: 'pending',
        matches,
      }
      doc.entries.push(created)
      return structuredClone(created)
    })
    const id = entry.id
    const logger = childLogger(options.logger ?? silentLogger, { erasure: id, component: 'erasure' })
    logger.info({ subject: options.subject, columns: Object.keys(entry.matches).length }, 'erasure started; landings keep the subject out from now on')
    // No publish may read the files this rewrite deletes (see holdPublishLock).
    const release = options.warehouse ? await holdPublishLock(options.warehouse.path) : undefined
    let lake: LakeErasureOutcome
    try {
      lake = await eraseFromLake(log, db, options.rules, entry.matches, { runId: id, erasureId: id, reason: `erasure ${id} of subject ${options.subject} (${subjectHash.slice(0, 16)}…)` }, logger)
    } finally {
      await release?.()
    }
    let warehouse: SnapshotPurge | undefined
    if (options.warehouse) warehouse = await purgeSnapshots({ lakeRoot: options.lakeRoot, warehouse: options.warehouse, ...(options.models ? { models: options.models } : {}), logger })
    const receipt: ErasureReceipt = {
      id,
      subject: options.subject,
      subjectHash,
      keyId: key.id,
      requestedAt: entry.requestedAt,
      deadline: entry.deadline,
      doneAt: now().toISOString(),
      matchedValues: Object.fromEntries(Object.entries(entry.matches).map(([c, h]) => [c, h.length])),
      lake: {
        commits: lake.commits,
        filesRewritten: lake.filesRewritten,
        filesDeleted: lake.filesRewritten.map((f) => f.from),
        rowsRemoved: lake.rowsRemoved,
        deadLetterFiles: lake.deadLetterFiles,
        deadLettersRemoved: lake.deadLettersRemoved,
      },
      ...(warehouse ? { warehouse: { snapshotPublished: warehouse.published, snapshotsRemoved: warehouse.removed, tableFilesRemoved: warehouse.tableFilesRemoved } } : {}),
      caches: warehouse
        ? `report results are cached per snapshot; a reports API drops every other snapshot's results when it switches to snapshot ${warehouse.published}`
        : 'no warehouse given: snapshots and cached results were not touched',
      keptOutAtLanding: `until \`coldpipe erase --clear ${id}\`, exports and change ingest leave out rows matching the subject`,
      limits: [
        'backups or copies of the lake and warehouse taken elsewhere are not touched',
        'dead letters whose payload was withheld (not JSON) cannot be searched and are kept',
        'rows referring to the subject only through rows created after the erasure (e.g. lines of a new order) are not followed',
      ],
    }
    const file = receiptFile(log.layout, id)
    await mkdir(dirname(file), { recursive: true })
    await writeFileAtomic(log.layout.tmpDir, file, JSON.stringify(receipt, null, 2) + '\n')
    await updateErasureList(log.layout, (doc) => {
      const saved = doc.entries.find((e) => e.id === id)
      if (saved) Object.assign(saved, { status: 'done', doneAt: receipt.doneAt, receipt: log.layout.relative(file) })
    })
    logger.info({ rowsRemoved: lake.rowsRemoved, snapshotsRemoved: warehouse?.removed.length ?? 0 }, 'erasure done')
    return receipt
  } catch (error) {
    const failed = entry
    if (failed) {
      await updateErasureList(log.layout, (doc) => {
        const saved = doc.entries.find((e) => e.id === failed.id)
        if (saved) Object.assign(saved, { status: 'failed', error: { code: (error as { code?: string }).code ?? 'ERASURE_FAILED', message: messageOf(error) } })
      }).catch(() => undefined)
    }
    throw error
  } finally {
    db.close()
  }
}

/** Takes an erasure off the list (once the source has deleted the subject): landings stop filtering its rows. */
export async function clearErasure(lakeRoot: string, id: string, now = new Date()): Promise<ErasureEntry> {
  const log = await CommitLog.open(lakeRoot)
  return updateErasureList(log.layout, (doc) => {
    const entry = doc.entries.find((e) => e.id === id)
    if (!entry) throw new ColdpipeError('ERASURE_FAILED', `no erasure ${id} on the list`, { context: { erasure: id }, canRetry: false })
    entry.status = 'cleared'
    entry.clearedAt = now.toISOString()
    // The hashes are what kept rows out; once cleared they serve nothing.
    entry.matches = {}
    return structuredClone(entry)
  })
}
