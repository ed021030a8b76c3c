import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { onTestFinished } from 'vitest'
import { SnapshotStore } from '../../warehouse/snapshot-store.ts'
import { publishFixtureSnapshot } from '../helpers/snapshot-fixtures.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { waitFor } from '../helpers/wait-for.ts'

const bin = fileURLToPath(new URL('../../bin/coldpipe.mjs', import.meta.url))

/** A published fixture snapshot (ordering.orders with `orders` rows, catalog.*, ...) and a config naming it. */
export async function snapshotConfig(orders = 300): Promise<{ dir: string; config: string }> {
  const dir = await tempDir('coldpipe-sql-prompt-')
  await publishFixtureSnapshot(new SnapshotStore(join(dir, 'wh')), { orders })
  const config = join(dir, 'coldpipe.yaml')
  await writeFile(config, `lake: ${join(dir, 'lake')}\nwarehouse: ${join(dir, 'wh')}\nsources: {}\n`)
  return { dir, config }
}

const quote = (arg: string): string => `'${arg.replace(/'/g, `'\\''`)}'`

/** Terminal output as text: colours, cursor moves and line clears removed, carriage returns dropped. */
export const plain = (text: string): string =>
  text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\x1b[=>]/g, '').replace(/\r/g, '')

export interface PtyProcess {
  /** Everything the terminal showed so far, as plain text (see `plain`). */
  output(): string
  /** Types keys (\r for Enter, \x03 Ctrl-C, \x04 Ctrl-D, \t Tab, \x1b[A up). */
  type(keys: string): void
  /** Waits until the output after `from` (a length of output()) matches. Returns the whole output. */
  waitFor(pattern: RegExp, from?: number, timeoutMs?: number): Promise<string>
  exited: Promise<number | null>
}

/**
 * `coldpipe --config <config> sql <args>` on a pseudo-terminal of `columns` × `rows` (util-linux `script`
 * gives it one; `stty` sets its size before coldpipe starts), with keys written to it as a user types them.
 */
export function ptyColdpipe(config: string, args: string[], options: { columns?: number; rows?: number; env?: Record<string, string> } = {}): PtyProcess {
  const command = [process.execPath, bin, '--config', config, '--log-level', 'silent', 'sql', ...args].map(quote).join(' ')
  const shell = `stty cols ${options.columns ?? 100} rows ${options.rows ?? 50}; exec ${command}`
  const child = spawn('script', ['-qfec', shell, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TERM: 'xterm', ...options.env } })
  onTestFinished(() => void child.kill('SIGKILL'))
  let raw = ''
  child.stdout.on('data', (chunk: Buffer) => (raw += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (raw += chunk.toString()))
  const output = () => plain(raw)
  return {
    output,
    type: (keys) => void child.stdin.write(keys),
    waitFor: (pattern, from = 0, timeoutMs = 30_000) =>
      waitFor(() => (pattern.test(output().slice(from)) ? output() : undefined), { timeoutMs, message: `terminal output matching ${pattern}; got:\n${output().slice(from)}` }),
    exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
  }
}
