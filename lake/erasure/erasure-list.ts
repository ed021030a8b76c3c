import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ColdpipeError, messageOf } from '../../core/errors.ts'
import { writeFileAtomic } from '../atomic-file.ts'
import type { LakeLayout } from '../lake-layout.ts'
import { isProcessAlive } from '../../core/process-alive.ts'

/**
 * One erasure request. Holds no personal data: the subject and every matched value are kept as keyed
 * hashes (HMAC-SHA256 of the value's text form under the lake's masking key), which is what a landing
 * compares against.
 */
export interface ErasureEntry {
  id: string
  /** The configured subject (`pii.subjects.<name>`). */
  subject: string
  /** HMAC of the subject's identifier value. */
  subjectHash: string
  keyId: string
  requestedAt: string
  deadline: string
  status: 'pending' | 'done' | 'failed' | 'cleared'
  doneAt?: string
  clearedAt?: string
  /** Per `service.table.column`: HMACs of the values whose rows are erased and kept out at landing. */
  matches: Record<string, string[]>
  /** Lake-relative path of the receipt once done. */
  receipt?: string
  error?: { code: string; message: string }
}

export interface ErasureListDocument {
  entries: ErasureEntry[]
}

export function erasureDir(layout: LakeLayout): string {
  return join(layout.stateDir, 'erasure')
}

export function erasureListFile(layout: LakeLayout): string {
  return join(erasureDir(layout), 'list.json')
}

export function receiptFile(layout: LakeLayout, id: string): string {
  return join(erasureDir(layout), 'receipts', `${id.replace(/[\/\\\0]/g, '_')}.json`)
}

export async function readErasureList(layout: LakeLayout): Promise<ErasureListDocument> {
  const file = erasureListFile(layout)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [] }
    throw new ColdpipeError('LAKE_IO_FAILED', `cannot read the erasure list ${file}: ${messageOf(error)}`, { cause: error, context: { file } })
  }
  try {
    const doc = JSON.parse(text) as ErasureListDocument
    if (!Array.isArray(doc.entries)) throw new Error('no entries array')
    return doc
  } catch (error) {
    // Failing closed: a landing that cannot read the list must not land rows the list may keep out.
    throw new ColdpipeError('LAKE_LOG_CORRUPT', `cannot parse the erasure list ${file}: ${messageOf(error)}`, { cause: error, context: { file } })
  }
}

/**
 * Changes the list under an exclusive lock file (one writer at a time across processes); landings read it
 * without the lock, which the atomic replace makes safe.
 */
export async function updateErasureList<T>(layout: LakeLayout, change: (doc: ErasureListDocument) => T): Promise<T> {
  const dir = erasureDir(layout)
  await mkdir(dir, { recursive: true })
  const lock = join(dir, 'list.lock')
  for (let attempt = 0; ; attempt++) {
    try {
      await writeFile(lock, String(process.pid), { flag: 'wx' })
      break
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new ColdpipeError('LAKE_IO_FAILED', `cannot lock ${lock}: ${messageOf(error)}`, { cause: error, context: { file: lock } })
      const owner = Number(await readFile(lock, 'utf8').catch(() => ''))
      if (!(Number.isInteger(owner) && owner > 0 && isProcessAlive(owner)) || attempt > 200) await rm(lock, { force: true })
      else await new Promise((r) => setTimeout(r, 25))
    }
  }
  try {
    const doc = await readErasureList(layout)
    const result = change(doc)
    await writeFileAtomic(layout.tmpDir, erasureListFile(layout), JSON.stringify(doc, null, 2) + '\n')
    return result
  } finally {
    await rm(lock, { force: true })
  }
}

/** Per `service.table.column`, every hash the active (not cleared) entries keep out of the lake. */
export function activeMatches(doc: ErasureListDocument): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>()
  for (const entry of doc.entries) {
    if (entry.status === 'cleared') continue
    for (const [column, hashes] of Object.entries(entry.matches)) {
      let set = out.get(column)
      if (!set) out.set(column, (set = new Set()))
      for (const h of hashes) set.add(h)
    }
  }
  return out
}
