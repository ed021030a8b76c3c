import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'

/**
 * Whether files can be created in `folder`, or in the nearest existing folder above it when it does not exist
 * yet (coldpipe creates it on first use). Probed by writing and removing a file: permission bits alone miss
 * read-only mounts and ACLs.
 */
export async function probeWritable(folder: string): Promise<{ writable: boolean; probed: string; exists: boolean; error?: string }> {
  const exists = existsSync(folder)
  let probed = folder
  while (!existsSync(probed) && dirname(probed) !== probed) probed = dirname(probed)
  const file = join(probed, `.coldpipe-check-${randomUUID()}`)
  try {
    await writeFile(file, '')
    await rm(file, { force: true })
    return { writable: true, probed, exists }
  } catch (error) {
    return { writable: false, probed, exists, error: (error as NodeJS.ErrnoException).code ?? String(error) }
  }
}
