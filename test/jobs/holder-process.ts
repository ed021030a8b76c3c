import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { onTestFinished } from 'vitest'
import { waitFor } from '../helpers/wait-for.ts'

const root = new URL('../..', import.meta.url).pathname

/**
 * Starts the hold-job fixture in its own process; resolves with its run id once it holds the lock.
 * `owner: 'default'` gives it the real host:pid:random owner id (so its death can be seen by pid).
 */
export async function holderProcess(lakeRoot: string, jobId: string, leaseMs: number, owner?: 'default'): Promise<{ runId: string; pid: number; kill(): Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'test/jobs/fixtures/hold-job.ts'), lakeRoot, jobId, String(leaseMs), ...(owner ? [owner] : [])], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  onTestFinished(() => void child.kill('SIGKILL'))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
  // Generous: starting tsx in a child takes tens of seconds on a loaded two-core machine.
  const runId = await waitFor(() => (out.includes('\n') ? out.trim() : undefined), { timeoutMs: 120_000, message: 'holder process started its job' })
  return {
    runId,
    pid: child.pid!,
    kill: async () => {
      child.kill('SIGKILL')
      await exited
    },
  }
}
