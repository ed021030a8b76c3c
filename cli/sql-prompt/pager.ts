import { spawn } from 'node:child_process'

/** Whether `text` is too long or too wide for a `rows` × `columns` screen (the prompt line needs one row). */
export function exceedsScreen(text: string, columns: number, rows: number): boolean {
  const lines = text.split('\n')
  if (lines.length - 1 >= rows - 1) return true
  return lines.some((line) => [...line].length > columns)
}

/**
 * Shows `text` through $PAGER (default `less -RFX`: quits at once when it fits, keeps the screen). The
 * pager owns the terminal meanwhile: a Ctrl-C there goes to the whole foreground process group, so this
 * process ignores SIGINT (the main handler would end it) until the pager exits. Returns false when no pager
 * could be started (the caller then writes the text itself).
 */
export async function page(text: string): Promise<boolean> {
  const command = process.env.PAGER?.trim() || 'less -RFX'
  const saved = process.rawListeners('SIGINT') as Array<(...args: unknown[]) => void>
  process.removeAllListeners('SIGINT')
  const ignore = (): void => {}
  process.on('SIGINT', ignore)
  try {
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(command, { shell: true, stdio: ['pipe', 'inherit', 'inherit'] })
      child.once('error', () => resolve(127))
      child.once('exit', (exitCode) => resolve(exitCode))
      // The reader may quit before reading everything (q in less): that is not an error.
      child.stdin.on('error', () => {})
      child.stdin.end(text)
    })
    return code !== 127 && code !== 126
  } finally {
    process.removeListener('SIGINT', ignore)
    for (const listener of saved) process.on('SIGINT', listener)
  }
}
