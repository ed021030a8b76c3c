import { createInterface, type Interface } from 'node:readline'
import type { Database } from '../../core/duckdb/index.ts'
import { ColdpipeError, messageOf } from '../../core/errors.ts'
import { complete, loadCompletionNames, type CompletionNames } from './completion.ts'
import { historyLimit, historyPath, loadHistory, saveHistory } from './history.ts'
import type { Screen, SqlSession } from './sql-session.ts'

const mainPrompt = 'coldpipe> '
const morePrompt = '     ...> '

/** readline keeps the line being edited in these fields; they are not in its typings. */
type EditableLine = Interface & { line: string; cursor: number }

/**
 * The interactive prompt. On a terminal: history kept in a file, Tab completes dot commands and the snapshot's
 * names, Ctrl-C cancels the running query (DuckDB interrupt) or clears the half-typed entry, a second Ctrl-C on
 * an empty line or Ctrl-D exits. From a pipe it reads statements line by line, as the same session.
 */
export async function runPrompt(db: Database, session: SqlSession, screen: Screen): Promise<void> {
  const terminal = process.stdin.isTTY === true && process.stdout.isTTY === true
  const file = historyPath()
  let names: CompletionNames | undefined
  let loading: Promise<void> | undefined
  let running = false
  let interrupted = false
  let interrupting: NodeJS.Timeout | undefined
  let armedExit = false
  const rl = createInterface({
    input: process.stdin,
    output: process.stdout,
    prompt: mainPrompt,
    terminal,
    ...(terminal
      ? {
          history: loadHistory(file),
          historySize: historyLimit,
          removeHistoryDuplicates: true,
          completer: (line: string, callback: (error: null, result: [string[], string]) => void) => {
            // Names are read once, on the first Tab.
            if (!names) loading ??= loadCompletionNames(db).then((loaded) => void (names = loaded), () => undefined)
            void (loading ?? Promise.resolve()).then(() => callback(null, complete(line, names)))
          },
        }
      : {}),
  }) as EditableLine
  if (terminal) rl.on('history', (lines: string[]) => saveHistory(file, lines))
  screen.suspend = () => {
    rl.pause()
    return () => rl.resume()
  }

  rl.on('SIGINT', () => {
    if (running) {
      // DuckDB clears a pending interrupt when a statement starts; repeating it until the entry ends also
      // stops one that was still being parsed or bound at the first Ctrl-C.
      interrupted = true
      db.interrupt()
      interrupting ??= setInterval(() => db.interrupt(), 100)
      return
    }
    if (rl.line !== '' || session.pending) {
      // Like a shell: the entry is dropped, the prompt starts over.
      session.clearPending()
      rl.line = ''
      rl.cursor = 0
      armedExit = false
      process.stdout.write('^C\n')
      rl.setPrompt(mainPrompt)
      rl.prompt()
      return
    }
    if (armedExit) {
      rl.close()
      return
    }
    armedExit = true
    process.stdout.write('^C\n(Ctrl-C again, Ctrl-D or .quit to leave)\n')
    rl.prompt()
  })

  rl.prompt()
  for await (const line of rl) {
    armedExit = false
    running = true
    interrupted = false
    let quit: 'quit' | undefined
    try {
      quit = await session.feed(line)
    } catch (error) {
      if (interrupted) process.stdout.write('query interrupted (Ctrl-C)\n')
      else printError(error)
    } finally {
      running = false
      clearInterval(interrupting)
      interrupting = undefined
    }
    if (quit === 'quit') break
    rl.setPrompt(session.pending ? morePrompt : mainPrompt)
    rl.prompt()
  }
  rl.close()
  // From a pipe, a last statement without `;` still runs, as with -c.
  if (!terminal) await session.finish().catch(printError)
}

/** In the prompt a failure is printed and the session goes on (with -c it ends the process, exit 1). */
function printError(error: unknown): void {
  process.stdout.write(`error: ${error instanceof ColdpipeError ? `${error.code}: ` : ''}${messageOf(error)}\n`)
}
