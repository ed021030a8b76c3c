import { readFile } from 'node:fs/promises'

/** Resident set size of a process in bytes from /proc (Linux); undefined where /proc is missing or the process is gone. */
export async function processRssBytes(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8')
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)
    return match ? Number(match[1]) * 1024 : undefined
  } catch {
    return undefined
  }
}

export { isProcessAlive } from '../../core/process-alive.ts'
