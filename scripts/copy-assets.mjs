#!/usr/bin/env node
// The compiled tree (dist/) needs the files the code reads next to its modules: the report page's
// static files and the demo's reports and models. The bundler copies only code. build-cli.mjs calls
// copyAssets on the tree it builds; run alone, this copies into dist/.
import { cpSync, readdirSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const folders = ['reports-api/web', 'demo/reports', 'demo/models']

/** Copies the asset folders into `dist` at their source paths; returns how many files. */
export function copyAssets(dist) {
  let copied = 0
  for (const folder of folders) {
    const from = join(root, folder)
    for (const name of readdirSync(from, { recursive: true })) {
      const path = join(from, String(name))
      // vendor-src/ holds the entry points build-web.mjs bundles into vendor/; only the bundles are served.
      if (!statSync(path).isFile() || path.endsWith('.ts') || path.includes('/vendor-src/')) continue
      cpSync(path, join(dist, relative(root, path)))
      copied++
    }
  }
  return copied
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.stdout.write(`copied ${copyAssets(join(root, 'dist'))} asset files into dist/\n`)
}
