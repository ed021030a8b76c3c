import { readFile } from 'node:fs/promises'
import { ColdpipeError, messageOf } from '../core/errors.ts'
import { writeFileAtomic } from './atomic-file.ts'
import type { LakeLayout } from './lake-layout.ts'
import { parseLakeSettings, type LakeSettings } from './lake-settings.ts'
import { createIfAbsent } from './put-if-absent.ts'

/**
 * The lake format this code reads and writes. 1: commit log with checkpoints (`_log/<v>.checkpoint.json`),
 * `_lake.json`. Lakes written before `_lake.json` existed are format 0 and are migrated at open.
 */
export const lakeFormatVersion = 1

export interface LakeFormatDocument {
  formatVersion: number
  createdAt: string
  /** The lake's log settings (see lake-settings.ts); absent keys take the defaults. */
  settings?: LakeSettings
}

/** `_lake.json` as found: undefined when the lake predates it (or does not exist yet). */
export async function readLakeFormat(layout: LakeLayout): Promise<LakeFormatDocument | undefined> {
  const file = layout.formatFile
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new ColdpipeError('LAKE_IO_FAILED', `cannot read ${file}: ${messageOf(cause)}`, { cause, context: { file } })
  }
  let doc: Partial<LakeFormatDocument>
  try {
    doc = JSON.parse(text) as Partial<LakeFormatDocument>
  } catch (cause) {
    throw new ColdpipeError('LAKE_LOG_CORRUPT', `cannot parse ${file}: ${messageOf(cause)}`, { cause, context: { file } })
  }
  if (typeof doc.formatVersion !== 'number' || !Number.isInteger(doc.formatVersion)) {
    throw new ColdpipeError('LAKE_LOG_CORRUPT', `${file} has no integer formatVersion`, { context: { file } })
  }
  if (doc.formatVersion > lakeFormatVersion) {
    throw new ColdpipeError(
      'LAKE_FORMAT_UNSUPPORTED',
      `${file} says lake format version ${doc.formatVersion}, newer than ${lakeFormatVersion}, the newest this coldpipe reads; upgrade coldpipe`,
      { context: { file, lakeFormatVersion: doc.formatVersion, supportedFormatVersion: lakeFormatVersion } },
    )
  }
  const settings = parseLakeSettings(doc.settings, `${file} settings`)
  return { formatVersion: doc.formatVersion, createdAt: String(doc.createdAt ?? ''), settings }
}

/**
 * Writes `_lake.json`: put-if-absent for a new or unmarked lake (a concurrent creator's file is as good as
 * ours), replaced atomically when `replace` (an older format being migrated).
 */
export async function writeLakeFormat(layout: LakeLayout, now: Date, replace = false, settings?: LakeSettings): Promise<void> {
  const doc: LakeFormatDocument = { formatVersion: lakeFormatVersion, createdAt: now.toISOString(), ...(settings && Object.keys(settings).length > 0 ? { settings } : {}) }
  const text = JSON.stringify(doc, null, 2) + '\n'
  if (replace) await writeFileAtomic(layout.tmpDir, layout.formatFile, text)
  else await createIfAbsent(layout.tmpDir, layout.formatFile, text)
}
