import { randomUUID } from 'node:crypto'
import pino, { type Logger } from 'pino'
import { TurnBatchedWriter } from './turn-batched-writer.ts'

export type { Logger } from 'pino'

export interface LoggerOptions {
  level?: string
  /** Where the JSON lines go; defaults to stderr (stdout carries command results). Tests pass a stream to inspect records. */
  destination?: NodeJS.WritableStream
  /**
   * Servers: stderr lines gathered per event-loop turn and written together (turn-batched-writer.ts), for a
   * line per request; one-shot commands write each line at once.
   */
  batchPerTurn?: boolean
  /**
   * Stderr's reader went away (EPIPE: `coldpipe … 2>&1 | head`). Later lines are dropped instead of
   * throwing from every log call; the caller decides what the process does (the CLI stops, as SIGPIPE would).
   */
  onStderrLost?: () => void
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.COLDPIPE_LOG_LEVEL ?? 'info'
  if (options.destination) return pino({ level, base: { app: 'coldpipe' } }, options.destination as pino.DestinationStream)
  const lost = options.onStderrLost ?? (() => undefined)
  return pino({ level, base: { app: 'coldpipe' } }, options.batchPerTurn ? new TurnBatchedWriter(2, lost) : stderrDestination(lost))
}

/** pino's synchronous stderr writer; it reports a failed write as an 'error' event, which unheard would throw from the log call. */
function stderrDestination(onLost: () => void): pino.DestinationStream {
  const destination = pino.destination({ dest: 2, sync: true })
  let lost = false
  destination.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error
    if (lost) return
    lost = true
    onLost()
  })
  return destination
}

/**
 * `logger.child(bindings)` without repeating a key the logger already carries with the same value (pino
 * would write it twice: `"runId":…,"runId":…`); a key bound to a different value is still added.
 */
export function childLogger(logger: Logger, bindings: Record<string, unknown>): Logger {
  const existing = logger.bindings()
  const fresh = Object.fromEntries(Object.entries(bindings).filter(([key, value]) => existing[key] !== value))
  return Object.keys(fresh).length === 0 ? logger : logger.child(fresh)
}

/** A logger that drops everything, for library callers that pass none. */
export const silentLogger: Logger = pino({ level: 'silent' })

/** Short, sortable-enough run id: time prefix keeps `ls` of run folders chronological. */
export function newRunId(prefix = 'run'): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
  return `${prefix}-${stamp}-${randomUUID().slice(0, 8)}`
}
