import type { LakeFile } from '../lake/index.ts'
import type { CompactionConfig } from './maintenance-config.ts'

/** The files of one table that may be merged together: one table, one way of ordering its versions. */
export interface CompactionGroup {
  service: string
  table: string
  /** `export-full` / `export-incremental` (rows ordered by commit) or `changes` (by `_cp_*` positions). */
  kind: 'export-full' | 'export-incremental' | 'changes'
  files: LakeFile[]
}

/** Active files grouped per table and kind; export files of a table that switched mode stay apart. */
export function compactionGroups(active: Iterable<LakeFile>): CompactionGroup[] {
  const groups = new Map<string, CompactionGroup>()
  for (const file of active) {
    const kind = file.origin === 'export' ? (file.mode === 'incremental' ? 'export-incremental' : 'export-full') : 'changes'
    const id = `${file.service}\0${file.table}\0${kind}`
    let group = groups.get(id)
    if (!group) groups.set(id, (group = { service: file.service, table: file.table, kind, files: [] }))
    group.files.push(file)
  }
  return [...groups.values()]
}

type Unit = { files: LakeFile[]; bytes: number }

/**
 * Which files to merge, as lists of inputs, one list per output file. Two tiers:
 *
 * 1. Rewrite-all-small: once a table has `minFiles` files under `smallFileBytes` (raw micro-batches and
 *    earlier small outputs alike), they are packed into outputs of at most `targetFileBytes` input bytes
 *    and `maxInputFilesPerOutput` files. An output stays small, and is merged again, until it passes
 *    `smallFileBytes`: each row is rewritten about smallFileBytes / (bytes landed per compaction) times.
 * 2. Bound: while the table would still hold more than `maxActiveFilesPerTable` files, the two smallest
 *    units (a file or a planned output) are merged, so the count after compaction never exceeds the bound,
 *    whatever the history; files then grow past `targetFileBytes` (size the bound for the data kept).
 */
export function planCompaction(files: LakeFile[], config: Pick<CompactionConfig, 'smallFileBytes' | 'targetFileBytes' | 'minFiles' | 'maxActiveFilesPerTable' | 'maxInputFilesPerOutput'>): LakeFile[][] {
  const ordered = [...files].sort((a, b) => a.path.localeCompare(b.path))
  const small = ordered.filter((f) => f.bytes < config.smallFileBytes)
  const units: Unit[] = ordered.filter((f) => f.bytes >= config.smallFileBytes).map((f) => ({ files: [f], bytes: f.bytes }))
  if (small.length >= config.minFiles) {
    let current: Unit = { files: [], bytes: 0 }
    for (const file of small) {
      const full = current.files.length >= config.maxInputFilesPerOutput || (current.files.length > 0 && current.bytes + file.bytes > config.targetFileBytes)
      if (full) {
        units.push(current)
        current = { files: [], bytes: 0 }
      }
      current.files.push(file)
      current.bytes += file.bytes
    }
    if (current.files.length > 0) units.push(current)
  } else {
    units.push(...small.map((f) => ({ files: [f], bytes: f.bytes })))
  }
  // Smallest first; each merge of the two smallest units removes one file from the count.
  units.sort((a, b) => a.bytes - b.bytes)
  while (units.length > config.maxActiveFilesPerTable) {
    const [a, b] = units.splice(0, 2) as [Unit, Unit]
    const merged = { files: [...a.files, ...b.files], bytes: a.bytes + b.bytes }
    const at = units.findIndex((u) => u.bytes > merged.bytes)
    units.splice(at === -1 ? units.length : at, 0, merged)
  }
  return units.filter((u) => u.files.length > 1).map((u) => u.files)
}
