import { readFile, rm, writeFile } from 'node:fs/promises'
import { moveIntoPlace, tempFileIn, type LakeLayout } from '../../lake/index.ts'
import { widenType } from '../../transform/index.ts'

/**
 * The column types inferred for each schema-less change table, kept in `<lake>/_state/changes-types/`
 * so types only widen across batches and restarts. Re-read before each use: other ingest processes in
 * the group may have widened the same table.
 */
export class TableTypesState {
  constructor(private readonly layout: LakeLayout) {}

  private file(service: string, table: string): string {
    return this.layout.changesTypesFile(service, table)
  }

  async read(service: string, table: string): Promise<Record<string, string>> {
    try {
      const parsed = JSON.parse(await readFile(this.file(service, table), 'utf8')) as { columns?: Record<string, string> }
      return parsed.columns ?? {}
    } catch {
      return {}
    }
  }

  /** Merges `types` into what is stored (each column widened), and stores the result if it changed. */
  async merge(service: string, table: string, types: Record<string, string>): Promise<void> {
    const stored = await this.read(service, table)
    const merged = { ...stored }
    let changed = false
    for (const [name, type] of Object.entries(types)) {
      const next = widenType(merged[name], type) ?? type
      if (next !== merged[name]) {
        merged[name] = next
        changed = true
      }
    }
    if (!changed) return
    // A failed write (a full disk) removes its temp file; the stored types stay as they were.
    const temp = tempFileIn(this.layout.tmpDir, '.json')
    try {
      await writeFile(temp, JSON.stringify({ service, table, columns: merged }, null, 2))
      await moveIntoPlace(temp, this.file(service, table))
    } catch (error) {
      await rm(temp, { force: true })
      throw error
    }
  }
}
