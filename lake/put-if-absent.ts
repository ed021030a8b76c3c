import { link, unlink, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { ColdpipeError, messageOf } from '../core/errors.ts'
import { fsyncPath, tempFileIn } from './atomic-file.ts'

/**
 * Creates `target` with `data` only if no file has that name: a finished, fsynced temp file is hard-linked
 * to it (link(2) fails with EEXIST), so readers see the whole file or none, and of two writers exactly one
 * wins. Returns false when the name was taken.
 */
export async function createIfAbsent(tmpDir: string, target: string, data: string): Promise<boolean> {
  const temp = tempFileIn(tmpDir, '.put.json')
  try {
    await writeFile(temp, data)
    await fsyncPath(temp)
    await link(temp, target)
    await fsyncPath(dirname(target))
    return true
  } catch (cause) {
    const errno = (cause as NodeJS.ErrnoException).code
    if (errno === 'EEXIST') return false
    if (errno === 'ENOSPC' || errno === 'EDQUOT') {
      throw new ColdpipeError('LAKE_DISK_FULL', `no space left on the lake's volume writing ${target}`, { cause, context: { target, errno } })
    }
    throw new ColdpipeError('LAKE_IO_FAILED', `cannot write ${target}: ${messageOf(cause)}`, {
      cause,
      context: { target, errno: (cause as NodeJS.ErrnoException).code },
    })
  } finally {
    await unlink(temp).catch(() => undefined)
  }
}
