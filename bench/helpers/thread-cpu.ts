import { readdirSync, readFileSync } from 'node:fs'

export interface ThreadCpu {
  /** The thread's name (Node names only a few; DuckDB's and libuv's threads show as `node`). */
  name: string
  /** User + system CPU-seconds since the thread started. */
  seconds: number
}

/** USER_HZ: the unit of the times in /proc/<pid>/task/<tid>/stat on Linux. */
const ticksPerSecond = 100

/**
 * Every thread of a process and its CPU-seconds so far, by thread id (the main thread's id is the pid), from
 * /proc/<pid>/task/<tid>/stat. A thread that ends while it is read is left out.
 */
export function threadCpuSeconds(pid: number | 'self' = 'self'): Map<string, ThreadCpu> {
  const out = new Map<string, ThreadCpu>()
  let tasks: string[]
  try {
    tasks = readdirSync(`/proc/${pid}/task`)
  } catch {
    return out // the process ended
  }
  for (const tid of tasks) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
      // The name is in parentheses and may hold spaces; the fields after it are space-separated.
      const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ')
      out.set(tid, { name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), seconds: (Number(fields[11]) + Number(fields[12])) / ticksPerSecond })
    } catch {
      // the thread ended meanwhile
    }
  }
  return out
}
