/** One Kafka record as the landing sees it: our own small shape, not kafkajs's. */
export interface ChangeRecord {
  topic: string
  partition: number
  /** Kafka offset as decimal text (int64). */
  offset: string
  key: Buffer | null
  value: Buffer | null
  headers: Record<string, string>
  /** Kafka record time, ms since the epoch, as text (kafkajs' shape). */
  timestamp: string
}

/** Bytes a record holds in memory, for flush and back-pressure thresholds (payloads plus a fixed overhead). */
export function recordBytes(record: ChangeRecord): number {
  let bytes = 128 + (record.value?.length ?? 0) + (record.key?.length ?? 0)
  for (const name in record.headers) bytes += name.length + (record.headers[name]?.length ?? 0)
  return bytes
}
