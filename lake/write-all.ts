import type { FileHandle } from 'node:fs/promises'

/**
 * Writes every byte of `data` at the handle's position: a single write(2) may write less (a filling disk
 * does, before ENOSPC), and a short write must never pass as a finished file.
 */
export async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  for (let done = 0; done < data.length; ) {
    const { bytesWritten } = await handle.write(data, done, data.length - done)
    if (bytesWritten <= 0) throw Object.assign(new Error(`write made no progress on ${data.length - done} bytes`), { code: 'EIO' })
    done += bytesWritten
  }
}

/** writev(2) of `parts`, then the rest of them if it wrote less (as writeAll): one system call in the usual case. */
export async function writevAll(handle: FileHandle, parts: Buffer[]): Promise<void> {
  const total = parts.reduce((n, part) => n + part.length, 0)
  const { bytesWritten } = await handle.writev(parts)
  if (bytesWritten < total) await writeAll(handle, Buffer.concat(parts).subarray(bytesWritten))
}
