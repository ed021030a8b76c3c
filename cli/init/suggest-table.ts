import { primaryKeyOf, type CatalogColumn, type CatalogTable } from '../catalog/index.ts'

export interface TableSuggestion {
  name: string
  mode: 'incremental' | 'full'
  cursor?: string
  key?: string[]
  /** The columns to export when some cannot be (types with no faithful mapping); absent: all of them. */
  columns?: string[]
  /** Why this mode, written above the table in the starter config. */
  reason: string
}

/** Names an update-time column goes by, compared without case and underscores (updated_at, lastModified, ...). */
const updateTimeNames = new Set([
  'updatedat', 'updated', 'updatedon', 'updatetime', 'updatedtime', 'updatets', 'updatedts', 'updatedate', 'updateddate',
  'modifiedat', 'modified', 'modifiedon', 'modifytime', 'modifiedtime', 'modifiedts', 'modifieddate', 'modificationdate', 'modificationtime',
  'lastmodified', 'lastmodifiedat', 'lastmodifiedon', 'lastmodifieddate', 'lastupdated', 'lastupdatedat', 'lastupdate', 'lastchanged', 'changedat', 'changedon',
])

/** The column that says when a row last changed: a time-typed column with an update-time name. */
export function updateTimeColumn(table: CatalogTable): CatalogColumn | undefined {
  const candidates = table.columns.filter((c) => c.kind === 'time' && updateTimeNames.has(c.name.toLowerCase().replace(/_/g, '')))
  // One that is never NULL first: a row whose cursor is NULL is never read incrementally.
  return candidates.find((c) => !c.nullable) ?? candidates[0]
}

/**
 * Incremental where rows can be merged (a primary key) and found when they change (an update-time column);
 * full otherwise, which re-reads the whole table each run but needs nothing from it.
 */
export function suggestTable(table: CatalogTable): TableSuggestion {
  const suggestion = suggestMode(table)
  const refused = table.columns.filter((c) => c.unsupported)
  if (refused.length === 0) return suggestion
  return {
    ...suggestion,
    columns: table.columns.filter((c) => !c.unsupported).map((c) => c.name),
    reason: `${suggestion.reason}; left out, no faithful export mapping: ${refused.map((c) => `${c.name} (${c.type})`).join(', ')}`,
  }
}

function suggestMode(table: CatalogTable): TableSuggestion {
  const key = primaryKeyOf(table)
  const column = updateTimeColumn(table)
  const cursor = column?.name
  if (key.length && cursor) {
    const nulls = column.nullable ? ` (it may be NULL: a row whose ${cursor} is NULL is read by full runs only; see coldpipe check)` : ''
    return { name: table.name, mode: 'incremental', cursor, key, reason: `primary key (${key.join(', ')}) and update-time column ${cursor}${nulls}` }
  }
  const missing = [key.length ? undefined : 'no primary key', cursor ? undefined : 'no update-time column (e.g. updated_at)'].filter(Boolean).join(' and ')
  return { name: table.name, mode: 'full', ...(key.length ? { key } : {}), reason: `${missing}: re-read in full each run` }
}
