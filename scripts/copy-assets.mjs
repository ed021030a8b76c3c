#!/usr/bin/env node
// The compiled tree (dist/) needs the files the code reads next to its modules: the report page's
// static files and the demo's reports and models. tsc copies only what it compiles.
import { cpSync, readdirSync, statSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const folders = ['reports-api/web', 'demo/reports', 'demo/models']
let copied = 0
for (const folder of folders) {
  const from = join(root, folder)
  for (const name of readdirSync(from, { recursive: true })) {
    const path = join(from, String(name))
    // vendor-src/ holds the entry points build-web.mjs bundles into vendor/; only the bundles are served.
    if (!statSync(path).isFile() || path.endsWith('.ts') || path.includes('/vendor-src/')) continue
    cpSync(path, join(root, 'dist', relative(root, path)))
    copied++
  }
}
process.stdout.write(`copied ${copied} asset files into dist/\n`)
