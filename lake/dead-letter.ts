import { mkdir, rm, writeFile } from 'node:fs/promises'
import { moveIntoPlace, tempFileIn } from './atomic-file.ts'
import type { LakeLayout } from './lake-layout.ts'

/** One piece of input that could not be landed, with enough to find it again and replay it. */
export interface DeadLetter {
  reason: string
  code: string
  /** Where it came from: topic/partition/offset for events, table/row for exports. */
  source: Record<string, unknown>
  /** The field (column) whose value could not be decoded, when one field is to blame. */
  field?: string
  /** The raw input as text (UTF-8) or base64 when it was not valid UTF-8. */
  payload: string | null
  payloadEncoding: 'utf8' | 'base64'
  at: string
  /** Columns masked in the payload and key before writing (docs/personal-data.md). */
  masked?: string[]
  /** The payload was not searchable for masked values (not JSON) and is not kept: its length and HMAC only. */
  withheld?: { bytes: number; hmac?: string }
}

export function encodePayload(bytes: Uint8Array | null): Pick<DeadLetter, 'payload' | 'payloadEncoding'> {
  if (bytes === null) return { payload: null, payloadEncoding: 'utf8' }
  const text = Buffer.from(bytes).toString('utf8')
  if (Buffer.from(text, 'utf8').equals(Buffer.from(bytes))) return { payload: text, payloadEncoding: 'utf8' }
  return { payload: Buffer.from(bytes).toString('base64'), payloadEncoding: 'base64' }
}

/**
 * Writes quarantined input as one NDJSON file named after its source range, so a replay of the same
 * range rewrites the same file rather than adding a second copy. Returns the absolute path.
 */
export async function writeDeadLetters(
  layout: LakeLayout,
  where: { service: string; table: string; name: string },
  letters: DeadLetter[],
): Promise<string | undefined> {
  if (letters.length === 0) return undefined
  const date = letters[0]!.at.slice(0, 10)
  const file = layout.deadLetterFile({ ...where, date })
  await mkdir(layout.tmpDir, { recursive: true })
  // Own temp name (not writeFileAtomic's) so a failed write, a full disk above all, leaves no temp file behind.
  const temp = tempFileIn(layout.tmpDir, '.ndjson')
  try {
    await writeFile(temp, letters.map((letter) => JSON.stringify(letter)).join('\n') + '\n')
    await moveIntoPlace(temp, file)
  } catch (error) {
    await rm(temp, { force: true })
    throw error
  }
  return file
}
