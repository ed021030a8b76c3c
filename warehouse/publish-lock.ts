import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ColdpipeError } from '../core/errors.ts'
import { isProcessAlive } from '../core/process-alive.ts'

/**
 * One publisher per warehouse: `<warehouse>/publish.lock` holds the owner's pid, created exclusively.
 * A lock left by a killed process (pid gone) is taken over, so a crash never blocks the next run.
 */
export async function acquirePublishLock(warehousePath: string): Promise<() => Promise<void>> {
  await mkdir(warehousePath, { recursive: true })
  const file = join(warehousePath, 'publish.lock')
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await writeFile(file, String(process.pid), { flag: 'wx' })
      return () => rm(file, { force: true })
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const owner = Number(await readFile(file, 'utf8').catch(() => ''))
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isProcessAlive(owner)) {
        throw new ColdpipeError('WAREHOUSE_PUBLISH_FAILED', `another publish is running in ${warehousePath} (pid ${owner})`, { context: { lock: file, pid: owner }, canRetry: true })
      }
      await rm(file, { force: true })
    }
  }
  throw new ColdpipeError('WAREHOUSE_PUBLISH_FAILED', `cannot take the publish lock ${file}`, { context: { lock: file } })
}
