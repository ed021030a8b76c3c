import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { closeSync, openSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { tempDir } from '../helpers/temp-dir.ts'

/** Runs `body` (a module's text, with createLogger imported) in a child process whose stderr is a file; its lines as JSON. */
async function loggedLines(body: string): Promise<{ msg: string; i?: number }[]> {
  const logger = join(import.meta.dirname, '../../core/logger.ts')
  const file = join(await tempDir(), 'stderr.log')
  const fd = openSync(file, 'w')
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `import { createLogger } from ${JSON.stringify(logger)}\n${body}`], { stdio: ['ignore', 'ignore', fd] })
  closeSync(fd)
  const [code] = await once(child, 'exit')
  const stderr = readFileSync(file, 'utf8')
  expect(code, stderr).toBe(0)
  return stderr.trim().split('\n').map((line) => JSON.parse(line) as { msg: string; i?: number })
}

describe('TurnBatchedWriter (createLogger batchPerTurn)', () => {
  it('writes every line, in order, across turns and when the process exits in the same turn', async () => {
    const lines = await loggedLines(`
      const log = createLogger({ batchPerTurn: true })
      for (let i = 0; i < 1000; i++) log.info({ i }, 'first turn')
      await new Promise((resolve) => setImmediate(resolve))
      log.info({ i: 1000 }, 'second turn')
      await new Promise((resolve) => setTimeout(resolve, 5))
      log.info({ i: 1001 }, 'just before exit')
      process.exit(0)`)
    expect(lines.map((l) => l.i)).toEqual(Array.from({ length: 1002 }, (_, i) => i))
    expect(lines.at(-1)?.msg).toBe('just before exit')
  }, 60_000)

  it('does not hold a line past the turn that logged it', async () => {
    // The child reads its own stderr file back in a later turn: the line must be there by then.
    const lines = await loggedLines(`
      import { readFileSync } from 'node:fs'
      const log = createLogger({ batchPerTurn: true })
      log.info('written')
      await new Promise((resolve) => setImmediate(resolve))
      await new Promise((resolve) => setImmediate(resolve))
      const seen = readFileSync('/proc/self/fd/2', 'utf8')
      log.info({ i: seen.includes('"written"') ? 1 : 0 }, 'checked')`)
    expect(lines.map((l) => l.msg)).toEqual(['written', 'checked'])
    expect(lines[1]?.i).toBe(1)
  }, 60_000)
})
