import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'

/** Lines kept from one run of the prompt to the next. */
export const historyLimit = 1000

/** COLDPIPE_HISTORY, else $XDG_STATE_HOME/coldpipe/history, else ~/.coldpipe_history. */
export function historyPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.COLDPIPE_HISTORY) return env.COLDPIPE_HISTORY
  if (env.XDG_STATE_HOME) return join(env.XDG_STATE_HOME, 'coldpipe', 'history')
  return join(homedir(), '.coldpipe_history')
}

/** The saved lines, newest first (readline's order); none when the file does not exist yet or cannot be read. */
export function loadHistory(path: string): string[] {
  try {
    return readFileSync(path, 'utf8').split('\n').filter((line) => line !== '').reverse().slice(0, historyLimit)
  } catch {
    return []
  }
}

/** Writes the newest `historyLimit` lines, oldest first; a history that cannot be written never stops the prompt. */
export function saveHistory(path: string, newestFirst: readonly string[]): void {
  try {
    mkdirSync(dirname(path), { recursive: true })
    const lines = newestFirst.slice(0, historyLimit).reverse()
    writeFileSync(path, lines.length > 0 ? `${lines.join('\n')}\n` : '', { mode: 0o600 })
  } catch {
    // A read-only home or a full disk costs the history, not the session.
  }
}
