import { readdir, readFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { ColdpipeError } from '../../core/errors.ts'

export interface ModelDefinition {
  name: string
  sql: string
  file: string
  dependsOn: string[]
}

/** Strips SQL comments and string literals so references are found only in code. */
function codeOnly(sql: string): string {
  return sql.replace(/--[^\n]*/g, ' ').replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/'(?:[^']|'')*'/g, "''")
}

/** Models a SQL text references as `analytics.<name>` (dbt's ref, by plain reference). */
export function modelReferences(sql: string, known: Set<string>): string[] {
  const found = new Set<string>()
  for (const m of codeOnly(sql).matchAll(/\banalytics\s*\.\s*"?([A-Za-z_][A-Za-z0-9_]*)"?/gi)) {
    const name = m[1]!.toLowerCase()
    if (known.has(name)) found.add(name)
  }
  return [...found]
}

export async function loadModels(dir: string | undefined): Promise<ModelDefinition[]> {
  if (!dir) return []
  let names: string[]
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.sql')).sort()
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw cause
  }
  const raw = await Promise.all(names.map(async (n) => ({ name: basename(n, '.sql').toLowerCase(), file: join(dir, n), sql: await readFile(join(dir, n), 'utf8') })))
  const known = new Set(raw.map((m) => m.name))
  return raw.map((m) => ({ ...m, sql: m.sql.trim().replace(/;\s*$/, ''), dependsOn: modelReferences(m.sql, known).filter((d) => d !== m.name) }))
}

/** Models in build order, dependencies first; a cycle is an error naming it. */
export function orderModels(models: ModelDefinition[]): ModelDefinition[] {
  const byName = new Map(models.map((m) => [m.name, m]))
  const done = new Set<string>()
  const ordered: ModelDefinition[] = []
  const visit = (name: string, path: string[]): void => {
    if (done.has(name)) return
    if (path.includes(name)) {
      const cycle = [...path.slice(path.indexOf(name)), name].join(' -> ')
      throw new ColdpipeError('WAREHOUSE_MODEL_FAILED', `read models form a cycle: ${cycle}`, { context: { cycle } })
    }
    const model = byName.get(name)!
    for (const dep of model.dependsOn) visit(dep, [...path, name])
    done.add(name)
    ordered.push(model)
  }
  for (const m of models) visit(m.name, [])
  return ordered
}
