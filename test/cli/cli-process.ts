import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { onTestFinished } from 'vitest'

const bin = fileURLToPath(new URL('../../bin/coldpipe.mjs', import.meta.url))

export interface CliProcess {
  pid: number
  /** Everything written to stderr so far. */
  stderr(): string
  kill(signal: NodeJS.Signals): void
  exited: Promise<{ code: number | null; stdout: string; stderr: string }>
}

/** A real `coldpipe` process (killed if the test ends first). */
export function coldpipeProcess(args: string[], options: { cwd?: string; input?: string } = {}): CliProcess {
  const stdin = options.input === undefined ? 'ignore' : 'pipe'
  const child = spawn(process.execPath, [bin, ...args], { stdio: [stdin, 'pipe', 'pipe'], env: { ...process.env, PORT: '' }, ...(options.cwd ? { cwd: options.cwd } : {}) })
  if (options.input !== undefined) child.stdin!.end(options.input)
  onTestFinished(() => void child.kill('SIGKILL'))
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  return {
    pid: child.pid!,
    stderr: () => stderr,
    kill: (signal) => void child.kill(signal),
    exited: new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr }))),
  }
}

/** Runs `coldpipe <args>` to its end (with `input` on its stdin). */
export function coldpipe(args: string[], options: { cwd?: string; input?: string } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return coldpipeProcess(args, options).exited
}
