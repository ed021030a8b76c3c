#!/usr/bin/env node
// Runs the compiled CLI (dist/cli/, bundled by scripts/build-cli.mjs in `npm ci` / `npm run build`). Without
// it, or with COLDPIPE_FROM_SOURCE=1 (the tests set it, so they run the sources being edited, never a stale
// build), it runs the TypeScript sources through tsx, a development dependency.
import { existsSync } from 'node:fs'

const compiled = new URL('../dist/cli/main.js', import.meta.url)
if (existsSync(compiled) && process.env.COLDPIPE_FROM_SOURCE !== '1') {
  await import(compiled.href)
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await import('../cli/main.ts')
}
