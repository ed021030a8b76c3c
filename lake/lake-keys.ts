/**
 * Every key format the lake's commit log stores: watermark keys (one per position stream) and idempotency
 * keys (one per unit of work, so a replay commits nothing new). Writers and readers build them only here,
 * so a format never drifts between the stage that writes it and the one that reads it.
 */

/** Watermark of an exported table: `export:<service>.<table>`. */
export function exportWatermarkKey(service: string, table: string): string {
  return `export:${service}.${table}`
}

/** Watermark of a Kafka partition: `kafka:<topic>:<partition>`. */
export function kafkaWatermarkKey(topic: string, partition: number): string {
  return `kafka:${topic}:${partition}`
}

/** One table of one export run: `export:<runId>:<service>.<table>`. */
export function exportIdempotencyKey(runId: string, service: string, table: string): string {
  return `export:${runId}:${service}.${table}`
}

/** One landed offset range of a partition: `changes:<topic>:<partition>:<first>-<last>`. */
export function changesIdempotencyKey(topic: string, partition: number, firstOffset: string | bigint, lastOffset: string | bigint): string {
  return `changes:${topic}:${partition}:${firstOffset}-${lastOffset}`
}

/** One compaction output: `compaction:<id>`. */
export function compactionIdempotencyKey(id: string): string {
  return `compaction:${id}`
}
