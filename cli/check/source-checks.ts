import type { ColdpipeConfig } from '../config/index.ts'
import { messageOf } from '../../core/errors.ts'
import { openCatalog, type SourceCatalog } from '../catalog/index.ts'
import { fail, ok, warn, type CheckResult } from './check-result.ts'
import { checkTable } from './table-checks.ts'

const globToRegExp = (glob: string): RegExp => new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`)

/** Every configured source: it connects, and each of its export's tables passes checkTable. */
export async function checkSources(config: ColdpipeConfig): Promise<CheckResult[]> {
  const results: CheckResult[] = []
  for (const [name, source] of Object.entries(config.sources)) {
    const subject = `source ${name}`
    let catalog: SourceCatalog
    try {
      catalog = await openCatalog(source.kind, source.url, { ...(source.schema ? { schema: source.schema } : {}), connectTimeoutMs: source.connectTimeoutMs })
    } catch (error) {
      results.push(fail(subject, 'connect', `cannot connect: ${messageOf(error)}`, `check sources.${name}.url (host, port, user, password, database) and that the server accepts connections from this machine`))
      continue
    }
    try {
      results.push(ok(subject, 'connect', `connected (${source.kind}, reading ${catalog.namespace})`))
      const index = config.exports.findIndex((e) => e.source === name)
      const exp = config.exports[index]
      if (!exp) {
        results.push(warn(subject, 'exports', 'no exports entry uses this source', `add an exports entry with source: ${name}, or remove the source`))
        continue
      }
      if (exp.tables) {
        for (const [j, table] of exp.tables.entries()) results.push(...(await checkTable(catalog, name, table, `exports[${index}].tables[${j}]`)))
      } else {
        const include = (exp.include ?? ['*']).map(globToRegExp)
        const exclude = (exp.exclude ?? []).map(globToRegExp)
        const matched = (await catalog.listTables()).filter((t) => include.some((re) => re.test(t)) && !exclude.some((re) => re.test(t)))
        results.push(
          matched.length
            ? ok(subject, 'tables', `${matched.length} tables match include/exclude, exported in full: ${matched.join(', ')}`)
            : warn(subject, 'tables', `no table of ${catalog.namespace} matches include/exclude; the export does nothing`, `correct exports[${index}].include / exclude, or list tables`),
        )
      }
    } catch (error) {
      results.push(fail(subject, 'catalog', `reading the catalog failed: ${messageOf(error)}`, 'check that this user may read the catalog (information_schema / pg_catalog)'))
    } finally {
      await catalog.close()
    }
  }
  return results
}
