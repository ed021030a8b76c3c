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

/**
 * Validates `value` against `schema`, throwing CONFIG_INVALID whose message lists every problem with its path.
 * Defaults from the schema are applied first so omitted optional settings get their documented value.
 */
export function validateConfig<S extends TSchema>(schema: S, value: unknown, origin: string): Static<S> {
  const withDefaults = Value.Default(schema, structuredClone(value))
  const errors = [...Value.Errors(schema, withDefaults)]
  if (errors.length === 0) return withDefaults as Static<S>
  // Unions report the parent path too; the most specific path for each spot is the useful one.
  const seen = new Set<string>()
  const problems: { path: string; reason: string }[] = []
  for (const error of errors) {
    const path = formatPath(error.path)
    if (seen.has(path)) continue
    seen.add(path)
    problems.push({ path, reason: describe(error) })
  }
  const lines = problems.map((p) => `  ${p.path}: ${p.reason}`).join('\n')
  throw new ColdpipeError('CONFIG_INVALID', `${origin}: invalid configuration\n${lines}`, {
    context: { origin, problems, path: problems[0]?.path },
  })
}

const envPattern = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g

/** Replaces `${NAME}` and `${NAME:-default}` in every string of a parsed document; a missing variable names its field. */
export function interpolateEnv(value: unknown, env: NodeJS.ProcessEnv, path = ''): unknown {
  if (typeof value === 'string') {
    return value.replace(envPattern, (_match, name: string, fallback: string | undefined) => {
      const found = env[name]
      if (found !== undefined && found !== '') return found
      if (fallback !== undefined) return fallback
      throw new ColdpipeError('CONFIG_ENV_MISSING', `environment variable ${name} is not set (used by ${path || '(root)'})`, {
        context: { variable: name, path },
      })
    })
  }
  if (Array.isArray(value)) return value.map((item, i) => interpolateEnv(item, env, `${path}[${i}]`))
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, interpolateEnv(item, env, path ? `${path}.${key}` : key)]),
    )
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
