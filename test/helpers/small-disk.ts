import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { onTestFinished } from 'vitest'

const run = promisify(execFile)

export interface SmallDisk {
  /** The mount point: a tmpfs of `sizeMb`, empty at first. */
  dir: string
  /** Fills the disk but for `leaveBytes`, with a ballast file that free() removes. */
  fill(leaveBytes?: number): Promise<void>
  /** Removes the ballast: the disk has room again. */
  free(): Promise<void>
}

/**
 * A real small file system (tmpfs, so CI must run as root, as it does) for full-disk tests: writes past
 * its size fail with ENOSPC as they would on a full data volume. Unmounted when the test finishes.
 */
export async function smallDisk(sizeMb: number): Promise<SmallDisk> {
  const dir = await mkdtemp(join(tmpdir(), 'coldpipe-disk-'))
  await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m`, 'tmpfs', dir])
  onTestFinished(async () => {
    await run('umount', ['-l', dir]).catch(() => undefined)
    await rm(dir, { recursive: true, force: true })
  })
  const ballast = join(dir, '.ballast')
  return {
    dir,
    async fill(leaveBytes = 0) {
      const { stdout } = await run('df', ['-B1', '--output=avail', dir])
      const avail = Number(stdout.trim().split('\n').pop())
      await writeFile(ballast, Buffer.alloc(Math.max(0, avail - leaveBytes)))
    },
    async free() {
      await rm(ballast, { force: true })
    },
  }
}
