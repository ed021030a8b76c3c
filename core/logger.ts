import { randomUUID } from 'node:crypto'
import pino, { type Logger } from 'pino'

export type { Logger } from 'pino'

export interface LoggerOptions {
  level?: string
  /** Where the JSON lines go; defaults to stdout. Tests pass a stream to inspect records. */
  destination?: NodeJS.WritableStream
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.COLDPIPE_LOG_LEVEL ?? 'info'
  return options.destination
    ? pino({ level, base: { app: 'coldpipe' } }, options.destination as pino.DestinationStream)
    : pino({ level, base: { app: 'coldpipe' } })
}

/** A logger that drops everything, for library callers that pass none. */
export const silentLogger: Logger = pino({ level: 'silent' })

/** Short, sortable-enough run id: time prefix keeps `ls` of run folders chronological. */
export function newRunId(prefix = 'run'): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
  return `${prefix}-${stamp}-${randomUUID().slice(0, 8)}`
}
