import type { SnapshotManifest } from '../warehouse/snapshot-store.ts'

export interface SourceFreshness {
  /** `service.table` */
  source: string
  asOf: string
  lagSeconds: number
  /** Set when the snapshot kept an older state of this table (a lake file of it was quarantined): why. */
  staleReason?: string
}

/** Whole seconds from `asOfMs` to `nowMs`, never negative: the one lag both the manifest view and cached reports show. */
export function lagSecondsAt(asOfMs: number, nowMs: number): number {
  return Math.max(0, Math.round((nowMs - asOfMs) / 1000))
}

/**
 * Per-source freshness from the snapshot's manifest watermarks: one entry per `service.table`, the oldest
 * as-of of its position streams (e.g. every Kafka partition of a topic) winning.
 */
export function snapshotFreshness(manifest: SnapshotManifest, now = Date.now()): SourceFreshness[] {
  const oldest = new Map<string, number>()
  for (const mark of manifest.watermarks ?? []) {
    const source = `${mark.service}.${mark.table}`
    const time = Date.parse(mark.asOf)
    if (Number.isNaN(time)) continue
    const known = oldest.get(source)
    if (known === undefined || time < known) oldest.set(source, time)
  }
  const stale = new Map((manifest.stale ?? []).map((s) => [s.table, s.reason]))
  return [...oldest.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([source, time]) => ({
      source,
      asOf: new Date(time).toISOString(),
      lagSeconds: lagSecondsAt(time, now),
      ...(stale.has(source) ? { staleReason: stale.get(source) } : {}),
    }))
}

/**
 * The sources a report reads: its declared `sources` (`service` or `service.table`), else every source whose
 * `service.table` its SQL names, else (read models hide their inputs) every source of the snapshot.
 */
export function reportSources(all: SourceFreshness[], sql: string, declared?: string[]): SourceFreshness[] {
  if (declared) {
    return all.filter((entry) => declared.some((name) => entry.source === name || entry.source.startsWith(`${name}.`)))
  }
  const text = sql.toLowerCase().replace(/"/g, '')
  const named = all.filter((entry) => new RegExp(`\\b${entry.source.toLowerCase().replace(/\./g, '\\.')}\\b`).test(text))
  return named.length > 0 ? named : all
}

export function oldestAsOf(sources: SourceFreshness[]): string | undefined {
  let oldest: string | undefined
  for (const entry of sources) if (oldest === undefined || entry.asOf < oldest) oldest = entry.asOf
  return oldest
}
