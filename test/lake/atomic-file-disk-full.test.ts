import { mkdir, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { writeFileAtomic } from '../../lake/index.ts'
import { smallDisk } from '../helpers/small-disk.ts'

describe('writeFileAtomic on a full disk', () => {
  it('fails with ENOSPC, leaves the old file whole and no temp behind, and works once space is freed', async () => {
    const disk = await smallDisk(4)
    const tmp = join(disk.dir, '_tmp')
    const target = join(disk.dir, '_state', 'record.json')
    await mkdir(tmp, { recursive: true })
    await writeFileAtomic(tmp, target, 'old')
    await disk.fill(64 * 1024)
    const error = await writeFileAtomic(tmp, target, Buffer.alloc(1024 * 1024, 1)).then(() => undefined, (e: unknown) => e)
    expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC')
    expect(await readFile(target, 'utf8')).toBe('old')
    expect(await readdir(tmp)).toEqual([])
    await disk.free()
    await writeFileAtomic(tmp, target, 'new')
    expect(await readFile(target, 'utf8')).toBe('new')
  })
})
