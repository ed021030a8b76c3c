import { spawn, spawnSync } from 'node:child_process'
import { copyFile, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it, onTestFinished } from 'vitest'
import { SnapshotStore } from '../../warehouse/snapshot-store.ts'
import { publishFixtureSnapshot } from '../helpers/snapshot-fixtures.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { waitFor } from '../helpers/wait-for.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))

/**
 * The other CLI tests run the sources (COLDPIPE_FROM_SOURCE=1); this one runs what `npm ci` builds: the
 * bundle scripts/build-cli.mjs writes, built here into a folder of its own (dist/ may be stale, or in use).
 * A bundle breaks where a module finds files from its own location, so each of those is exercised:
 * package.json (--version), the report page's files and the SQL worker's entry (serve, GET /, POST /sql),
 * and DuckDB's native binding, loaded beside the bundled @duckdb/node-api (POST /sql).
 */
describe('the bundled CLI', () => {
  it('runs from a build: --version, --help, and serve with the web page and the SQL worker', async () => {
    const dir = await tempDir('coldpipe-bundle-')
    await writeFile(join(dir, 'package.json'), await readFile(join(root, 'package.json')))
    await symlink(join(root, 'node_modules'), join(dir, 'node_modules'))
    await mkdir(join(dir, 'bin'))
    await copyFile(join(root, 'bin/coldpipe.mjs'), join(dir, 'bin/coldpipe.mjs'))
    const built = spawnSync(process.execPath, [join(root, 'scripts/build-cli.mjs'), '--outdir', join(dir, 'dist')], { encoding: 'utf8' })
    expect(built.stderr).toBe('')
    expect(built.status).toBe(0)
    const bin = join(dir, 'bin/coldpipe.mjs')
    const env = { ...process.env, COLDPIPE_FROM_SOURCE: '', PORT: '' }
    const run = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env })

    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string> }
    // What the bundle still loads from node_modules must be installed by `npm ci --omit=dev` (the image).
    const externals = JSON.parse(await readFile(join(dir, 'dist/cli/externals.json'), 'utf8')) as { packages: string[] }
    expect(externals.packages).toContain('@duckdb/node-api')
    for (const name of externals.packages) expect(pkg.dependencies, `the bundle loads ${name}`).toHaveProperty([name])
    expect(run(['--version'])).toMatchObject({ status: 0, stdout: `${pkg.version}\n` })
    const help = run(['--help'])
    expect(help.status).toBe(0)
    expect(help.stdout).toMatch(/^ {2}export <source>/m)
    // The demo finds its reports and models beside its compiled modules.
    expect((await readdir(join(dir, 'dist/demo/reports'))).some((name) => name.endsWith('.sql'))).toBe(true)

    await publishFixtureSnapshot(new SnapshotStore(join(dir, 'wh')), { orders: 20 })
    await mkdir(join(dir, 'reports'))
    const config = join(dir, 'coldpipe.yaml')
    await writeFile(config, [
      `lake: ${join(dir, 'lake')}`,
      `warehouse: ${join(dir, 'wh')}`,
      'sources: {}',
      `reports: ${join(dir, 'reports')}`,
      'api: { host: 127.0.0.1, sqlEnabled: true, apiKeys: [{ key: "bundle-test-key-0123", name: t, reports: ["*"], sql: true }] }',
    ].join('\n'))
    const serve = spawn(process.execPath, [bin, '--config', config, '--log-level', 'warn', 'serve', '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'], env })
    onTestFinished(() => void serve.kill('SIGKILL'))
    let stderr = ''
    serve.stderr.on('data', (chunk: Buffer) => (stderr += chunk))
    const url = await waitFor(() => /reports API on (http:\/\/\S+)/.exec(stderr)?.[1], { timeoutMs: 60_000, message: 'serve to listen' })

    const page = await fetch(`${url}/`)
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('<!doctype html>')
    const sql = await fetch(`${url}/sql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'bundle-test-key-0123' },
      body: JSON.stringify({ sql: 'select count(*) as n from ordering.orders' }),
    })
    expect(await sql.json()).toMatchObject({ rows: [{ n: '20' }] })
  }, 180_000)
})
