import type { ExportTableConfig } from '../../ingest/export/export-config.ts'
import { hasLeadingIndex, isUniqueKey, primaryKeyOf, type CatalogColumn, type CatalogTable, type SourceCatalog } from '../catalog/index.ts'
import { fail, ok, warn, type CheckResult } from './check-result.ts'

const listOf = (names: string[]): string => (names.length ? names.join(', ') : 'none')

/**
 * Checks of one configured table against the source: it exists, this user may read it, its key columns
 * exist and are unique, and its cursor exists, is a time or a number, and is served by an index.
 */
export async function checkTable(catalog: SourceCatalog, source: string, table: ExportTableConfig, path: string): Promise<CheckResult[]> {
  const subject = `${source}.${table.name}`
  const qualified = `${catalog.namespace}.${table.name}`
  const found = await catalog.describeTable(table.name)
  if (!found) {
    const tables = await catalog.listTables()
    // MySQL hides tables this user has no privilege on, so there "missing" may be "not granted".
    const seen = catalog.kind === 'mysql' ? ' (or this user has no privilege on it)' : ''
    return [fail(subject, 'exists', `table ${qualified} does not exist${seen}`, `correct ${path}.name or create the table (tables in ${catalog.namespace}: ${listOf(tables)})`)]
  }
  const results: CheckResult[] = [ok(subject, 'exists', `table ${qualified} exists (${found.columns.length} columns)`)]
  results.push(
    (await catalog.canSelect(table.name))
      ? ok(subject, 'select', 'this user may SELECT from it')
      : fail(subject, 'select', `this user may not SELECT from ${qualified}`, `GRANT SELECT ON ${qualified} TO <the user in the source URL>`),
  )
  const names = new Set(found.columns.map((c) => c.name))
  const missingColumns = (table.columns ?? []).filter((c) => !names.has(c))
  if (missingColumns.length) {
    results.push(fail(subject, 'columns', `columns ${missingColumns.join(', ')} do not exist`, `correct ${path}.columns (columns of ${qualified}: ${listOf([...names])})`))
  }
  const exported = table.columns ? found.columns.filter((c) => table.columns!.includes(c.name)) : found.columns
  const refused = exported.filter((c) => c.unsupported)
  if (refused.length) {
    const rest = (table.columns ?? found.columns.map((c) => c.name)).filter((n) => !refused.some((c) => c.name === n))
    results.push(fail(subject, 'column types', refused.map((c) => `column ${c.name}: type ${c.type} has no faithful export mapping`).join('; '), `leave ${refused.length > 1 ? 'them' : 'it'} out: ${path}.columns: [${rest.join(', ')}] (or export a view that casts ${refused.length > 1 ? 'them' : 'it'} to text)`))
  }
  if (table.key) results.push(keyCheck(found, subject, table.key, path))
  if (table.cursor) results.push(...cursorChecks(found, subject, qualified, table.cursor, path, catalog.kind))
  return results
}

function keyCheck(found: CatalogTable, subject: string, key: string[], path: string): CheckResult {
  const names = new Set(found.columns.map((c) => c.name))
  const missing = key.filter((k) => !names.has(k))
  const primary = primaryKeyOf(found)
  const suggestion = primary.length ? `the primary key is (${primary.join(', ')})` : `columns: ${listOf([...names])}`
  if (missing.length) return fail(subject, 'key', `key column ${missing.join(', ')} does not exist`, `correct ${path}.key (${suggestion})`)
  if (isUniqueKey(found, key)) return ok(subject, 'key', `key (${key.join(', ')}) is ${primary.join() === key.join() ? 'the primary key' : 'unique'}`)
  return warn(subject, 'key', `key (${key.join(', ')}) is neither the primary key nor a unique index; rows with the same key merge into one`, primary.length ? `use ${suggestion}, or add a unique index on (${key.join(', ')})` : `add a unique index on (${key.join(', ')})`)
}

function cursorChecks(found: CatalogTable, subject: string, qualified: string, cursor: string, path: string, kind: SourceCatalog['kind']): CheckResult[] {
  const column = found.columns.find((c) => c.name === cursor)
  const candidates = found.columns.filter((c) => c.kind === 'time').map((c) => c.name)
  if (!column) {
    return [fail(subject, 'cursor', `cursor column ${cursor} does not exist`, `correct ${path}.cursor (time columns of ${qualified}: ${listOf(candidates)})`)]
  }
  if (column.kind === 'other') {
    return [fail(subject, 'cursor', `cursor column ${cursor} is ${column.type}, neither a time nor a number`, `use a timestamp or number column that grows on every change (time columns: ${listOf(candidates)})`)]
  }
  const results = [ok(subject, 'cursor', `cursor ${cursor} is ${column.type}`)]
  if (column.nullable) results.push(nullableCursor(subject, qualified, column, kind))
  results.push(
    hasLeadingIndex(found, cursor)
      ? ok(subject, 'cursor index', `an index starts with ${cursor}`)
      : warn(subject, 'cursor index', `no index starts with ${cursor}: every incremental run reads the whole table`, kind === 'postgres' ? `CREATE INDEX CONCURRENTLY ON ${qualified} (${cursor})` : `CREATE INDEX ${found.name}_${cursor}_idx ON ${qualified} (${cursor})`),
  )
  return results
}

/** `cursor > watermark` is never true for NULL: such rows are read by the first run and by full runs only. */
function nullableCursor(subject: string, qualified: string, column: CatalogColumn, kind: SourceCatalog['kind']): CheckResult {
  const c = column.name
  const time = column.kind === 'time'
  const fill = time ? `UPDATE ${qualified} SET ${c} = now() WHERE ${c} IS NULL; ` : `give the rows where ${c} IS NULL a value, then `
  const fix = kind === 'postgres'
    ? `${fill}ALTER TABLE ${qualified} ${time ? `ALTER COLUMN ${c} SET DEFAULT now(), ` : ''}ALTER COLUMN ${c} SET NOT NULL`
    : `${fill}ALTER TABLE ${qualified} MODIFY ${c} ${column.type} NOT NULL${time ? ' DEFAULT CURRENT_TIMESTAMP' : ''}`
  return warn(subject, 'cursor nulls', `cursor ${c} may be NULL: a row whose cursor is NULL is read by the first run and by full runs (--full), never by an incremental run`, `${fix} (a view: coalesce the cursor in the view)`)
}
