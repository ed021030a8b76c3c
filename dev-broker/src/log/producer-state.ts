import { KafkaErrorCode } from '../errors/kafka-error-code.ts'
import type { BatchInfo } from '../records/record-batch.ts'

/** How many recent batches per producer are remembered to answer retried (duplicate) sends. */
const RECENT_BATCHES = 5

interface ProducerEntry {
  epoch: number
  lastSequence: number
  recent: { baseSequence: number; baseOffset: number }[]
}

export type SequenceCheck =
  | { kind: 'append' }
  | { kind: 'duplicate'; baseOffset: number }
  | { kind: 'reject'; errorCode: KafkaErrorCode }

/**
 * Per-partition sequence tracking for idempotent producers: a retried batch is acknowledged with its
 * original offset instead of being appended twice, and a gap is refused. The state lives in memory only,
 * so after a broker restart the first batch of each producer is taken at face value.
 */
export class ProducerState {
  private readonly producers = new Map<number, ProducerEntry>()

  check(batch: BatchInfo): SequenceCheck {
    if (batch.producerId < 0) return { kind: 'append' }
    const entry = this.producers.get(batch.producerId)
    if (!entry || batch.producerEpoch > entry.epoch) return { kind: 'append' }
    if (batch.producerEpoch < entry.epoch) return { kind: 'reject', errorCode: KafkaErrorCode.INVALID_PRODUCER_EPOCH }
    const seen = entry.recent.find((r) => r.baseSequence === batch.baseSequence)
    if (seen) return { kind: 'duplicate', baseOffset: seen.baseOffset }
    if (batch.baseSequence !== entry.lastSequence + 1) {
      return { kind: 'reject', errorCode: KafkaErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER }
    }
    return { kind: 'append' }
  }

  record(batch: BatchInfo, baseOffset: number): void {
    if (batch.producerId < 0) return
    let entry = this.producers.get(batch.producerId)
    if (!entry || batch.producerEpoch > entry.epoch) {
      entry = { epoch: batch.producerEpoch, lastSequence: -1, recent: [] }
      this.producers.set(batch.producerId, entry)
    }
    entry.lastSequence = batch.baseSequence + batch.recordCount - 1
    entry.recent.push({ baseSequence: batch.baseSequence, baseOffset })
    if (entry.recent.length > RECENT_BATCHES) entry.recent.shift()
  }
}
