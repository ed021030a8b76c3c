import { randomUUID } from 'node:crypto'
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { ColdpipeError, messageOf } from '../core/errors.ts'

export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** A fresh name in the lake's scratch folder; files there are never visible to readers. */
export function tempFileIn(tmpDir: string, suffix = ''): string {
  return join(tmpDir, `${Date.now()}-${randomUUID()}${suffix}`)
}

/**
 * Makes a finished temp file durable at its final path: fsync the data, rename (atomic on one
 * file system), fsync the folder so the rename itself survives a power cut.
 */
export async function moveIntoPlace(tempPath: string, finalPath: string): Promise<void> {
  try {
    await fsyncPath(tempPath)
    await mkdir(dirname(finalPath), { recursive: true })
    await rename(tempPath, finalPath)
    await fsyncPath(dirname(finalPath))
  } catch (cause) {
    throw new ColdpipeError('LAKE_IO_FAILED', `cannot move ${tempPath} to ${finalPath}: ${messageOf(cause)}`, {
      cause,
      context: { tempPath, finalPath },
    })
  }
}

/** Writes bytes to `finalPath` atomically: readers see the old file or the whole new one, never a part. */
export async function writeFileAtomic(tmpDir: string, finalPath: string, data: string | Uint8Array): Promise<void> {
  await mkdir(tmpDir, { recursive: true })
  const temp = tempFileIn(tmpDir)
  try {
    const handle = await open(temp, 'w')
    try {
      await handle.writeFile(data)
    } finally {
      await handle.close()
    }
    await moveIntoPlace(temp, finalPath)
  } catch (cause) {
    // A short write (full disk) must not leave a zero-byte or partial temp behind.
    await rm(temp, { force: true })
    throw cause
  }
}

/** Removes scratch files a crashed writer left behind; they were never visible, so nothing is lost. */
export async function removeStaleTemps(tmpDir: string, olderThanMs: number, now = Date.now()): Promise<number> {
  let names: string[]
  try {
    names = await readdir(tmpDir)
  } catch {
    return 0
  }
  let removed = 0
  for (const name of names) {
    const path = join(tmpDir, name)
    try {
      const info = await stat(path)
      if (now - info.mtimeMs >= olderThanMs) {
        await rm(path, { recursive: true, force: true })
        removed++
      }
    } catch {
      // Raced with another process cleaning up; nothing to do.
    }
  }
  return removed
}
