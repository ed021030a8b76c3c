#!/usr/bin/env node
// Bundles the CLI into dist/cli/ with esbuild: Node then reads a few dozen files at start-up instead of
// resolving and compiling the ~700 modules (ours, typebox, yaml, pg, ...) an export used to load one by one.
// Code splitting keeps commands lazy: cli/commands/index.ts imports each command's module on demand, and
// each becomes its own chunk. Run by `npm run build` (so by `npm ci`); the type check is `npm run typecheck`.
//   node scripts/build-cli.mjs [--outdir DIR] [--metafile FILE]   (DIR: dist; another is for A/B benchmarks,
//   and must have coldpipe's node_modules above it)
import { build } from 'esbuild'
import { builtinModules } from 'node:module'
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { copyAssets } from './copy-assets.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const { values } = parseArgs({ options: { outdir: { type: 'string', default: 'dist' }, metafile: { type: 'string' } } })
const dist = resolve(root, values.outdir)
/** Every bundle file lands in this one folder, so each module's own location in it is known at build time. */
const bundleDir = join(dist, 'cli')

/**
 * Packages left to Node's resolver instead of the bundle: files read by path beside their own modules
 * (PGlite's wasm and data, swagger-ui's static files, @fastify/swagger's package.json via __dirname, which an
 * ES module bundle does not have), and an optional require of a package we do not install (pg-native).
 * Bundled packages that find files from their own location do so only on paths coldpipe does not take:
 * pino and thread-stream for transports (core/logger.ts writes to a sync destination), node-cron for tasks
 * given as a file (ours are functions). DuckDB's binding is loaded as below.
 */
const optionalExternal = ['pg-native']
const external = ['@electric-sql/pglite', '@electric-sql/pglite-socket', '@fastify/swagger', '@fastify/swagger-ui', ...optionalExternal]

/**
 * @duckdb/node-api's JavaScript is bundled (its ~180 CommonJS files cost 30-60 ms of every command that
 * opens DuckDB); its native binding, @duckdb/node-bindings, is required at run time from node-api's own
 * folder, as node-api itself would: it is node-api's dependency, not ours, and need not be hoisted.
 */
const duckdbBinding = {
  name: 'duckdb-binding',
  setup(b) {
    b.onResolve({ filter: /^@duckdb\/node-bindings$/ }, () => ({ path: 'binding', namespace: 'duckdb-binding' }))
    b.onLoad({ filter: /.*/, namespace: 'duckdb-binding' }, () => ({
      contents: "module.exports = require('node:module').createRequire(require.resolve('@duckdb/node-api'))('@duckdb/node-bindings')",
      loader: 'js',
    }))
  },
}

/**
 * pg picks its socket type when pg/lib/stream.js loads, probing for Cloudflare Workers by constructing a fetch
 * `Response`, which makes Node load undici (10-45 ms of every command that opens a Postgres connection). The
 * bundle only ever runs on Node, so the probe's answer is known: false.
 */
const pgNodeStreams = {
  name: 'pg-node-streams',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/]pg[\\/]lib[\\/]stream\.js$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8')
      const probe = 'function isCloudflareRuntime() {'
      if (!source.includes(probe)) return { errors: [{ text: `${args.path}: ${probe} not found (pg changed: review this plugin)` }] }
      return { contents: source.replace(probe, `${probe}\n  return false`), loader: 'js' }
    })
  },
}

/**
 * Our modules find files from their own location (`new URL('./web/', import.meta.url)`: the report page,
 * the demo's reports and models, package.json, the SQL worker's entry). In the bundle they share the
 * chunk's URL, so each module's `import.meta.url` is replaced by the URL it would have in a file-per-module
 * tree (dist/<path>.js), computed from the bundle folder; copy-assets.mjs puts the files there as before.
 * `createRequire(import.meta.url)('pkg')` (a package required from the module's own location, which
 * esbuild cannot follow) becomes `require('pkg')`, which it bundles from that same location.
 */
const ownModuleUrls = {
  name: 'own-module-urls',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, (args) => {
      if (args.path.split(sep).includes('node_modules')) return undefined
      const source = readFileSync(args.path, 'utf8')
      if (!source.includes('import.meta')) return undefined
      const unsupported = source.match(/import\.meta\.(dirname|filename|resolve)\b/)
      if (unsupported) return { errors: [{ text: `import.meta.${unsupported[1]} is not rewritten for the bundle: use import.meta.url` }] }
      const asCompiled = join(dist, relative(root, args.path)).replace(/\.ts$/, '.js')
      const fromBundle = relative(bundleDir, asCompiled).split(sep).join('/')
      const contents = source
        .replace(/\bcreateRequire\(import\.meta\.url\)\((['"][^'"]+['"])\)/g, 'require($1)')
        .replaceAll('import.meta.url', `new URL(${JSON.stringify(fromBundle)}, import.meta.url).href`)
      return { contents, loader: 'ts' }
    })
  },
}

/**
 * Node's built-ins as bundled packages name them (`events`, `util/types`) are written `node:events`: one
 * spelling for Node's own modules in the output, never mistaken for a package of that name.
 */
const builtinBare = new RegExp(`^(${builtinModules.filter((name) => !name.startsWith('_')).join('|').replaceAll('/', '\\/')})$`)
const nodePrefix = {
  name: 'node-prefix',
  setup(b) {
    b.onResolve({ filter: builtinBare }, (args) => ({ path: `node:${args.path}`, external: true }))
  },
}

// Build beside dist/ and swap it in at the end: benchmarks running the compiled CLI never see half a tree.
const staging = `${dist}.building`
rmSync(staging, { recursive: true, force: true })
const result = await build({
  absWorkingDir: root,
  entryPoints: { main: 'cli/main.ts', 'sql-worker-main': 'reports-api/sql-worker/sql-worker-main.ts' },
  outdir: join(staging, 'cli'),
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external,
  plugins: [ownModuleUrls, nodePrefix, duckdbBinding, pgNodeStreams],
  // Bundled CommonJS packages call require() for Node's built-ins; an ES module has none of its own.
  banner: { js: "import { createRequire as __coldpipeCreateRequire } from 'node:module'; const require = __coldpipeCreateRequire(import.meta.url);" },
  sourcemap: 'linked',
  legalComments: 'linked',
  metafile: true,
  logLevel: 'warning',
})

// The SQL worker process is forked from dist/reports-api/sql-worker/ (where sql-worker-process.ts looks
// for its entry, see above): a one-line module there runs the bundled entry.
const workerStub = join(staging, 'reports-api/sql-worker/sql-worker-main.js')
mkdirSync(dirname(workerStub), { recursive: true })
writeFileSync(workerStub, "// Generated by scripts/build-cli.mjs: the SQL worker's entry is bundled into dist/cli/.\nimport '../../cli/sql-worker-main.js'\n")

const assets = copyAssets(staging)
// The packages the bundle still loads from node_modules at run time (the image installs production
// dependencies only: test/deploy checks each is one). node-api is resolved by the binding's loader above.
const packageName = (spec) => spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/')
const fromNodeModules = new Set(['@duckdb/node-api'])
for (const out of Object.values(result.metafile.outputs)) {
  for (const { path, external: isExternal } of out.imports) if (isExternal && !path.startsWith('node:')) fromNodeModules.add(packageName(path))
}
const packages = [...fromNodeModules].filter((name) => !optionalExternal.includes(name)).sort()
writeFileSync(join(staging, 'cli/externals.json'), `${JSON.stringify({ packages, optional: optionalExternal }, null, 2)}\n`)
// What went into which chunk, for `npx esbuild --analyze`-style questions (why is this chunk loaded?).
if (values.metafile) writeFileSync(values.metafile, JSON.stringify(result.metafile))

rmSync(dist, { recursive: true, force: true })
renameSync(staging, dist)
const outputs = Object.entries(result.metafile.outputs).filter(([file]) => file.endsWith('.js'))
const kib = Math.round(outputs.reduce((sum, [, out]) => sum + out.bytes, 0) / 1024)
process.stdout.write(`bundled the CLI into ${relative(root, bundleDir)}/: ${outputs.length} files, ${kib} KiB; copied ${assets} asset files\n`)
