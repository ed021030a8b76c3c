#!/usr/bin/env node
// Bundles the report page's libraries (Chart.js, CodeMirror) into reports-api/web/vendor/, which the server
// serves itself: the page loads nothing from the internet. Run by `npm run build` (and so by `npm ci`);
// copy-assets.mjs then copies the folder into dist/. The output is generated, not committed.
import { build } from 'esbuild'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const web = join(root, 'reports-api/web')
const result = await build({
  entryPoints: { charts: join(web, 'vendor-src/charts.js'), editor: join(web, 'vendor-src/editor.js') },
  outdir: join(web, 'vendor'),
  bundle: true,
  format: 'esm',
  minify: true,
  target: 'es2022',
  legalComments: 'linked',
  metafile: true,
  logLevel: 'warning',
})
const sizes = Object.entries(result.metafile.outputs).map(([file, out]) => `${file.slice(file.lastIndexOf('/') + 1)} ${Math.round(out.bytes / 1024)} KiB`)
process.stdout.write(`bundled the report page's libraries: ${sizes.join(', ')}\n`)
