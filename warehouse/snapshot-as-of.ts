import { ColdpipeError } from '../core/errors.ts'
import { SnapshotStore, type SnapshotManifest } from './snapshot-store.ts'

/** The newest kept snapshot published at or before `time`. */
export async function resolveSnapshotAsOf(warehousePath: string, time: Date): Promise<SnapshotManifest> {
  const store = new SnapshotStore(warehousePath)
  const ids = await store.list()
  for (const id of ids.reverse()) {
    const manifest = await store.get(id)
    if (Date.parse(manifest.publishedAt) <= time.getTime()) return manifest
  }
  throw new ColdpipeError('WAREHOUSE_SNAPSHOT_NOT_FOUND', `no kept snapshot was published at or before ${time.toISOString()}`, { context: { asOf: time.toISOString() } })
}
