import { readFileSync } from 'node:fs'

/** The version in coldpipe's package.json, found from the sources (cli/) or the compiled tree (dist/cli/). */
export function packageVersion(): string {
  for (const up of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'coldpipe' && pkg.version) return pkg.version
    } catch {
      // not at this level
    }
  }
  return 'unknown'
}
