import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, unlinkSync, writeSync, ftruncateSync } from 'node:fs'
import { join } from 'node:path'
import { DevBrokerError } from '../errors/dev-broker-error.ts'
import { batchBaseOffset, batchSizeAt } from '../records/record-batch.ts'

const SEGMENT_SUFFIX = '.log'

interface Segment {
  baseOffset: number
  path: string
}

function segmentName(baseOffset: number): string {
  return `${String(baseOffset).padStart(20, '0')}${SEGMENT_SUFFIX}`
}

/**
 * One partition's batches on disk, in segment files named after their first offset (as Kafka does), so
 * retention can drop whole old segments with an unlink instead of rewriting a file. Batches are written
 * exactly as served; a torn tail from a crash is cut off on load.
 */
export class PartitionFiles {
  private readonly segments: Segment[] = []
  private fd: number | null = null
  private activeBytes = 0

  constructor(
    readonly dir: string,
    private readonly segmentBytes: number,
  ) {
    mkdirSync(dir, { recursive: true })
  }

  /** Reads every stored batch in offset order (and opens the last segment for appending). */
  load(onBatch: (batch: Buffer) => void): void {
    const names = readdirSync(this.dir).filter((n) => n.endsWith(SEGMENT_SUFFIX)).sort()
    for (const name of names) {
      const path = join(this.dir, name)
      const data = readFileSync(path)
      let at = 0
      while (at < data.length) {
        const size = batchSizeAt(data, at)
        if (size < 0) break
        onBatch(Buffer.from(data.subarray(at, at + size)))
        at += size
      }
      if (at < data.length) this.truncate(path, at)
      this.segments.push({ baseOffset: Number(name.slice(0, -SEGMENT_SUFFIX.length)), path })
      this.activeBytes = at
    }
  }

  private truncate(path: string, length: number): void {
    const fd = openSync(path, 'r+')
    try {
      ftruncateSync(fd, length)
    } finally {
      closeSync(fd)
    }
  }

  append(batch: Buffer): void {
    try {
      if (this.fd === null || this.activeBytes >= this.segmentBytes) this.roll(batchBaseOffset(batch))
      writeSync(this.fd!, batch)
      this.activeBytes += batch.length
    } catch (cause) {
      throw new DevBrokerError('DATA_DIR_IO', `cannot append to partition files in ${this.dir}`, {
        cause,
        context: { dir: this.dir },
      })
    }
  }

  private roll(baseOffset: number): void {
    const last = this.segments.at(-1)
    if (this.fd === null && last && this.activeBytes < this.segmentBytes) {
      this.fd = openSync(last.path, 'a')
      return
    }
    if (this.fd !== null) closeSync(this.fd)
    const path = join(this.dir, segmentName(baseOffset))
    this.fd = openSync(path, 'a')
    this.segments.push({ baseOffset, path })
    this.activeBytes = 0
  }

  /** Unlinks segments that only hold offsets below the new log start offset. */
  dropBefore(logStartOffset: number): void {
    while (this.segments.length > 1 && this.segments[1]!.baseOffset <= logStartOffset) {
      unlinkSync(this.segments.shift()!.path)
    }
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd)
    this.fd = null
  }

  destroy(): void {
    this.close()
    rmSync(this.dir, { recursive: true, force: true })
  }
}
