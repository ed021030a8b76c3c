import { readFileSync } from 'node:fs'
import { dirname, isAbsolute, resolve } from 'node:path'
import type { TSchema, Static } from '@sinclair/typebox'
import { Value, type ValueError } from '@sinclair/typebox/value'
import { parseDocument } from 'yaml'
import { ColdpipeError } from '../errors.ts'

/** `a.b[0].c` from typebox's `/a/b/0/c`, the way users read YAML paths. */
export function formatPath(pointer: string): string {
  if (pointer === '' || pointer === '/') return '(root)'
  return pointer
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part), '')
}

function literalChoices(schema: TSchema): unknown[] | undefined {
  const anyOf = (schema as { anyOf?: TSchema[] }).anyOf
  if (!anyOf || !anyOf.every((s) => 'const' in s)) return undefined
  return anyOf.map((s) => (s as unknown as { const: unknown }).const)
}

function describe(error: ValueError): string {
  const choices = literalChoices(error.schema)
  const got = error.value === undefined ? 'nothing' : JSON.stringify(error.value)
  if (choices) return `must be one of ${choices.map((c) => JSON.stringify(c)).join(', ')} (got ${got})`
  if (error.message === 'Unexpected property') return 'is not a known setting'
  if (error.value === undefined) return 'is required'
  return `${error.message.replace(/^Expected/, 'must be')} (got ${got})`
}

/** A config problem: where (`exports[0].tables[1].cursor`) and what is wrong there. */
export interface ConfigProblem {
  path: string
  reason: string
}

/** CONFIG_INVALID listing every problem on its own line with its path. */
export function configInvalid(origin: string, problems: ConfigProblem[]): ColdpipeError {
  const lines = problems.map((p) => `  ${p.path}: ${p.reason}`).join('\n')
  return new ColdpipeError('CONFIG_INVALID', `${origin}: invalid configuration\n${lines}`, {
    context: { origin, problems, path: problems[0]?.path },
  })
}

/**
 * `value` with the schema's defaults applied, and every place it breaks the schema (none when valid). Defaults
 * come first so omitted optional settings get their documented value.
 */
export function schemaProblems<S extends TSchema>(schema: S, value: unknown): { value: unknown; problems: ConfigProblem[] } {
  const withDefaults = Value.Default(schema, structuredClone(value))
  // Unions report the parent path too; the most specific path for each spot is the useful one.
  const seen = new Set<string>()
  const problems: ConfigProblem[] = []
  for (const error of Value.Errors(schema, withDefaults)) {
    const path = formatPath(error.path)
    if (seen.has(path)) continue
    seen.add(path)
    problems.push({ path, reason: describe(error) })
  }
  return { value: withDefaults, problems }
}

/** Validates `value` against `schema`, throwing CONFIG_INVALID whose message lists every problem with its path. */
export function validateConfig<S extends TSchema>(schema: S, value: unknown, origin: string): Static<S> {
  const checked = schemaProblems(schema, value)
  if (checked.problems.length > 0) throw configInvalid(origin, checked.problems)
  return checked.value as Static<S>
}

const envPattern = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g

/**
 * Replaces `${NAME}` and `${NAME:-default}` in every string of a parsed document. Missing variables are
 * collected over the whole document and named together, each with the field that uses it.
 */
export function interpolateEnv(value: unknown, env: NodeJS.ProcessEnv, path = ''): unknown {
  const missing: { variable: string; path: string }[] = []
  const result = substitute(value, env, path, missing)
  if (missing.length === 1) {
    const { variable, path: usedBy } = missing[0]!
    throw new ColdpipeError('CONFIG_ENV_MISSING', `environment variable ${variable} is not set (used by ${usedBy || '(root)'})`, { context: { variable, path: usedBy, missing } })
  }
  if (missing.length > 1) {
    const list = missing.map((m) => `${m.variable} (used by ${m.path || '(root)'})`).join(', ')
    throw new ColdpipeError('CONFIG_ENV_MISSING', `environment variables ${list} are not set`, { context: { variable: missing[0]!.variable, path: missing[0]!.path, missing } })
  }
  return result
}

function substitute(value: unknown, env: NodeJS.ProcessEnv, path: string, missing: { variable: string; path: string }[]): unknown {
  if (typeof value === 'string') {
    return value.replace(envPattern, (match, name: string, fallback: string | undefined) => {
      const found = env[name]
      if (found !== undefined && found !== '') return found
      if (fallback !== undefined) return fallback
      missing.push({ variable: name, path })
      return match
    })
  }
  if (Array.isArray(value)) return value.map((item, i) => substitute(item, env, `${path}[${i}]`, missing))
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, substitute(item, env, path ? `${path}.${key}` : key, missing)]))
  }
  return value
}

export function readYamlFile(file: string): unknown {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (cause) {
    throw new ColdpipeError('CONFIG_NOT_FOUND', `cannot read config file ${file}: ${(cause as Error).message}`, {
      cause,
      context: { file },
    })
  }
  const doc = parseDocument(text, { prettyErrors: true })
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!
    const line = first.linePos?.[0]
    throw new ColdpipeError(
      'CONFIG_PARSE_FAILED',
      `${file}${line ? `:${line.line}:${line.col}` : ''}: not valid YAML: ${first.message.split('\n')[0]}`,
      { context: { file, line: line?.line, column: line?.col } },
    )
  }
  return doc.toJS() ?? {}
}

export function resolveFrom(baseDir: string, path: string): string {
  return isAbsolute(path) ? path : resolve(baseDir, path)
}

export function configDir(file: string): string {
  return dirname(resolve(file))
}
