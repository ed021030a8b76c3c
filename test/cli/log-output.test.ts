import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { postgresSchema } from '../helpers/databases.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { coldpipe } from './cli-process.ts'

/** Top-level keys of one JSON text in order, duplicates kept (JSON.parse would fold them). */
function topLevelKeys(line: string): string[] {
  const keys: string[] = []
  let depth = 0
  for (let i = 0; i < line.length; i++) {
    const c = line[i]
    if (c === '"') {
      let j = i + 1
      let text = ''
      while (j < line.length && line[j] !== '"') {
        if (line[j] === '\\') j++
        text += line[j]
        j++
      }
      if (depth === 1 && line[j + 1] === ':') keys.push(text)
      i = j
    } else if (c === '{' || c === '[') depth++
    else if (c === '}' || c === ']') depth--
  }
  return keys
}

describe('command output and logs', () => {
  it('export --json: stdout is exactly the JSON result, logs are JSON lines on stderr, and no log line repeats a key', { timeout: 180_000 }, async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.items (id int primary key, name text, updated_at timestamptz default now())`)
    await client.query(`INSERT INTO ${schema}.items SELECT g, 'n' || g FROM generate_series(1, 500) g`)
    const dir = await tempDir()
    const config = join(dir, 'coldpipe.yaml')
    await writeFile(
      config,
      [
        `lake: ${join(dir, 'lake')}`,
        `warehouse: { path: ${join(dir, 'warehouse')} }`,
        `sources: { shop: { kind: postgres, url: "${url}", schema: ${schema} } }`,
        'exports:',
        '  - source: shop',
        '    tables:',
        '      - { name: items, mode: incremental, cursor: updated_at, key: [id], lagSeconds: 0 }',
      ].join('\n'),
    )
    const run = await coldpipe(['-c', config, '--log-level', 'debug', 'export', 'shop', '--json'])
    expect(run.code, run.stderr).toBe(0)
    const result = JSON.parse(run.stdout)
    expect(result).toMatchObject([{ table: 'items', status: 'committed', rows: 500 }])
    // On a pipe, progress is plain lines for a person beside the logs, ending with the table's total.
    expect(run.stderr).toMatch(/^shop\.items {2}500 rows in \S+ \(\S+ rows\/s\)$/m)
    const logLines = run.stderr.split('\n').filter((line) => line.startsWith('{'))
    expect(logLines.length).toBeGreaterThan(2)
    for (const line of logLines) {
      const keys = topLevelKeys(line)
      expect(new Set(keys).size, `repeated key in ${line}`).toBe(keys.length)
      expect(JSON.parse(line)).toHaveProperty('msg')
    }
    // The run id is on every line of the run, once.
    expect(logLines.filter((line) => line.includes('"export table read"')).map((line) => JSON.parse(line).runId)).toEqual([expect.stringMatching(/^export-/)])
  })
})
