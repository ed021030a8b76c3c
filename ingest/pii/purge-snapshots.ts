import { ColdpipeError, isColdpipeError } from '../../core/errors.ts'
import type { Logger } from '../../core/logger.ts'
import { publish, SnapshotStore, type WarehouseConfig } from '../../warehouse/index.ts'
import { acquirePublishLock } from '../../warehouse/publish-lock.ts'

export interface SnapshotPurge {
  /** The snapshot built from the erased lake, now current. */
  published: number
  /** Every other retained snapshot: built before the erasure, so possibly holding the subject's rows. */
  removed: number[]
  /** Warehouse table files no remaining snapshot reads, deleted. */
  tableFilesRemoved: number
}

async function retrying<T>(what: () => Promise<T>, deadlineMs: number): Promise<T> {
  const until = Date.now() + deadlineMs
  for (;;) {
    try {
      return await what()
    } catch (error) {
      // Another publish holds the warehouse: wait for it rather than fail the erasure.
      if (!isColdpipeError(error, 'WAREHOUSE_PUBLISH_FAILED') || !error.canRetry || Date.now() > until) throw error
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }
}

/**
 * Takes the warehouse's publish lock, waiting for a running publish to finish. Held while an erasure commits
 * its rewrite and deletes the old files: a publish that planned from the version before would find them gone,
 * quarantine them and keep the table at its old state (with the subject's rows) as stale.
 */
export function holdPublishLock(warehousePath: string, waitMs = 120_000): Promise<() => Promise<void>> {
  return retrying(() => acquirePublishLock(warehousePath), waitMs)
}

/**
 * Publishes a snapshot from the erased lake (every table whose files the erasure replaced is rebuilt, as
 * publish rebuilds a table whose files were removed), then, under the publish lock, deletes every older
 * snapshot and the table files only they read. Readers holding an old snapshot open keep reading it until
 * they let go (the reports API lets go when it switches to the new one, dropping the cached results of the
 * others); no new reader can open it.
 */
export async function purgeSnapshots(options: { lakeRoot: string; warehouse: WarehouseConfig; models?: string; logger: Logger; waitMs?: number }): Promise<SnapshotPurge> {
  const waitMs = options.waitMs ?? 120_000
  const result = await retrying(() => publish({ lakeRoot: options.lakeRoot, warehouse: options.warehouse, ...(options.models ? { models: options.models } : {}), logger: options.logger, force: true }), waitMs)
  if (!result.published) {
    throw new ColdpipeError('ERASURE_FAILED', `the warehouse snapshot after the erasure was not published: ${result.reason}`, { context: { warehouse: options.warehouse.path } })
  }
  // A table kept stale keeps an older state, which may hold the subject's rows.
  const stale = result.manifest.stale ?? []
  if (stale.length > 0) {
    throw new ColdpipeError('ERASURE_FAILED', `snapshot ${result.manifest.id} keeps ${stale.map((t) => t.table).join(', ')} at an older state (a lake file could not be read: ${stale[0]!.reason}); its rows may include the subject. Resolve the quarantine, then run the erasure again`, {
      context: { snapshot: result.manifest.id, stale: stale.map((t) => t.table) },
    })
  }
  const store = new SnapshotStore(options.warehouse.path)
  const release = await holdPublishLock(options.warehouse.path, waitMs)
  try {
    const current = await store.currentId()
    const removed: number[] = []
    for (const id of await store.list()) {
      if (id === current) continue
      await store.remove(id)
      removed.push(id)
    }
    // No publish runs (the lock is held), so nothing being written can be taken for unreferenced.
    const files = await store.removeUnreferencedTableFiles(0)
    return { published: current ?? result.manifest.id, removed, tableFilesRemoved: files.length }
  } finally {
    await release()
  }
}
