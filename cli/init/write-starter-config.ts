import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { ColdpipeError } from '../../core/errors.ts'
import { openCatalog, sourceKindOfUrl } from '../catalog/index.ts'
import { starterConfigYaml } from './starter-config.ts'
import { sourceNameFromUrl, urlWithoutPassword } from './source-url.ts'
import { suggestTable, type TableSuggestion } from './suggest-table.ts'

export interface InitOptions {
  from: string
  /** The config file to write. */
  file: string
  force?: boolean
  /** Postgres schema to list (default public); MySQL reads the URL's database. */
  schema?: string
  sourceName?: string
}

export interface InitResult {
  file: string
  sourceName: string
  tables: TableSuggestion[]
  /** Set when the URL's password was moved to this environment variable. */
  passwordVariable?: string
}

/**
 * `coldpipe init --from <url>`: lists the database's tables and writes a starter config with a suggested
 * mode per table. Refuses to replace an existing file unless `force`.
 */
export async function writeStarterConfig(options: InitOptions): Promise<InitResult> {
  if (existsSync(options.file) && !options.force) {
    throw new ColdpipeError('REQUEST_INVALID', `${options.file} already exists; pass --force to overwrite it, or --config to write another file`, { context: { file: options.file } })
  }
  const kind = sourceKindOfUrl(options.from)
  const sourceName = options.sourceName ?? sourceNameFromUrl(options.from)
  if (!/^[a-z][a-z0-9_]*$/.test(sourceName)) {
    throw new ColdpipeError('REQUEST_INVALID', `source name "${sourceName}" must be lowercase letters, digits and _, starting with a letter`, { context: { path: '--name' } })
  }
  let catalog
  try {
    catalog = await openCatalog(kind, options.from, options.schema ? { schema: options.schema } : {})
  } catch (cause) {
    throw new ColdpipeError('SOURCE_CONNECT_FAILED', `cannot connect to ${urlWithoutPassword(options.from, sourceName).url}: ${(cause as Error).message}`, { cause, context: { source: sourceName } })
  }
  let tables: TableSuggestion[]
  try {
    tables = []
    for (const name of await catalog.listTables()) {
      const described = await catalog.describeTable(name)
      if (described) tables.push(suggestTable(described))
    }
  } finally {
    await catalog.close()
  }
  const { url, variable } = urlWithoutPassword(options.from, sourceName)
  const yaml = starterConfigYaml({
    sourceName,
    kind,
    url,
    ...(kind === 'postgres' ? { schema: options.schema ?? 'public' } : options.schema ? { schema: options.schema } : {}),
    tables,
    writtenBy: `\`coldpipe init\` on ${new Date().toISOString().slice(0, 10)}`,
  })
  await mkdir(dirname(options.file), { recursive: true })
  await writeFile(options.file, yaml, { flag: options.force ? 'w' : 'wx' })
  // The config names ./reports; `serve` refuses a missing folder, so an empty one is ready for the first report.
  await mkdir(join(dirname(options.file), 'reports'), { recursive: true })
  return { file: options.file, sourceName, tables, ...(variable ? { passwordVariable: variable } : {}) }
}
