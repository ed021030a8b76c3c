import { KafkaErrorCode } from '../errors/kafka-error-code.ts'
import {
  batchBaseOffset,
  batchMaxTimestamp,
  batchRecordCount,
  stampBatch,
  type BatchInfo,
} from '../records/record-batch.ts'
import type { PartitionFiles } from './partition-files.ts'
import { ProducerState } from './producer-state.ts'

export type AppendResult = { errorCode: 0; baseOffset: number } | { errorCode: KafkaErrorCode; baseOffset: -1 }

export interface ReadResult {
  /** Whole stored batches, by reference; the first may start before the requested offset. */
  batches: Buffer[]
  bytes: number
}

/**
 * One partition's log: the stored batches as received (offsets stamped in), with parallel arrays of
 * base offsets for binary search, so a fetch is a lookup plus a slice of buffer references.
 * Retention drops whole batches from the head once the partition holds more than its byte budget.
 */
export class PartitionLog {
  private batches: Buffer[] = []
  private baseOffsets: number[] = []
  private maxTimestamps: number[] = []
  /** Index of the first live batch; dropped batches are spliced out in bulk, not one shift at a time. */
  private head = 0
  private waiters = new Set<() => void>()
  private readonly producers = new ProducerState()
  logStartOffset = 0
  /** Next offset to assign; with a single replica it is also the high watermark. */
  nextOffset = 0
  sizeBytes = 0

  constructor(
    readonly topic: string,
    readonly partition: number,
    private readonly retentionBytes: number,
    private readonly files: PartitionFiles | null,
  ) {
    files?.load((batch) => this.push(batch))
    this.enforceRetention()
  }

  get highWatermark(): number {
    return this.nextOffset
  }

  append(batch: BatchInfo): AppendResult {
    const check = this.producers.check(batch)
    if (check.kind === 'reject') return { errorCode: check.errorCode, baseOffset: -1 }
    if (check.kind === 'duplicate') return { errorCode: 0, baseOffset: check.baseOffset }
    const baseOffset = this.nextOffset
    stampBatch(batch.buffer, baseOffset)
    this.files?.append(batch.buffer)
    this.push(batch.buffer)
    this.producers.record(batch, baseOffset)
    this.enforceRetention()
    this.wake()
    return { errorCode: 0, baseOffset }
  }

  private push(batch: Buffer): void {
    const baseOffset = batchBaseOffset(batch)
    if (this.batches.length === this.head) this.logStartOffset = baseOffset
    this.batches.push(batch)
    this.baseOffsets.push(baseOffset)
    this.maxTimestamps.push(batchMaxTimestamp(batch))
    this.nextOffset = baseOffset + batchRecordCount(batch)
    this.sizeBytes += batch.length
  }

  private enforceRetention(): void {
    // The newest batch always stays, however large, so the high watermark keeps a batch behind it.
    while (this.sizeBytes > this.retentionBytes && this.batches.length - this.head > 1) {
      this.sizeBytes -= this.batches[this.head]!.length
      this.head++
      this.logStartOffset = this.baseOffsets[this.head]!
    }
    if (this.head > 1024 && this.head * 2 > this.batches.length) {
      this.batches = this.batches.slice(this.head)
      this.baseOffsets = this.baseOffsets.slice(this.head)
      this.maxTimestamps = this.maxTimestamps.slice(this.head)
      this.head = 0
    }
    this.files?.dropBefore(this.logStartOffset)
  }

  /** Index of the batch holding `offset` (the last batch whose base offset is <= offset). */
  private indexOf(offset: number): number {
    let low = this.head
    let high = this.batches.length - 1
    while (low < high) {
      const mid = (low + high + 1) >>> 1
      if (this.baseOffsets[mid]! <= offset) low = mid
      else high = mid - 1
    }
    return low
  }

  /** Checks an offset a consumer wants to read from; the high watermark itself is valid (nothing yet). */
  validOffset(offset: number): boolean {
    return offset >= this.logStartOffset && offset <= this.nextOffset
  }

  /**
   * Batches from `offset` up to `maxBytes`; with `atLeastOne` the first batch is returned even when
   * larger, so a consumer can always make progress (KIP-74).
   */
  read(offset: number, maxBytes: number, atLeastOne = true): ReadResult {
    const result: ReadResult = { batches: [], bytes: 0 }
    if (offset >= this.nextOffset || this.batches.length === this.head) return result
    for (let i = this.indexOf(offset); i < this.batches.length; i++) {
      const batch = this.batches[i]!
      if (result.bytes + batch.length > maxBytes && (result.bytes > 0 || !atLeastOne)) break
      result.batches.push(batch)
      result.bytes += batch.length
    }
    return result
  }

  /** First offset of the first batch whose newest record is at or after `timestamp`, else -1. */
  offsetForTimestamp(timestamp: number): number {
    for (let i = this.head; i < this.batches.length; i++) {
      if (this.maxTimestamps[i]! >= timestamp) return Math.max(this.baseOffsets[i]!, this.logStartOffset)
    }
    return -1
  }

  /** Registers a callback run once on the next append (or deletion); returns its cancel function. */
  onNextAppend(callback: () => void): () => void {
    this.waiters.add(callback)
    return () => this.waiters.delete(callback)
  }

  /** Parked long polls on this partition; tests check that abandoned ones are gone. */
  get waiting(): number {
    return this.waiters.size
  }

  wake(): void {
    if (this.waiters.size === 0) return
    const waiters = [...this.waiters]
    this.waiters.clear()
    for (const waiter of waiters) waiter()
  }

  close(): void {
    this.wake()
    this.files?.close()
  }

  destroy(): void {
    this.wake()
    this.files?.destroy()
  }
}
