import { ColdpipeError, isColdpipeError, messageOf } from '../../core/errors.ts'
import { isDiskFullError } from '../../lake/index.ts'
import { abortedError } from './read-guard.ts'

/**
 * The coded error a failed table attempt ends with, naming source and table: EXPORT_ABORTED once the run's
 * signal fired (whatever the torn-down read or interrupted DuckDB said next), LAKE_DISK_FULL with the file
 * being written for a full volume, coded errors as they are (with source and table added to their
 * context), anything else EXPORT_FAILED.
 */
export function attemptError(error: unknown, where: { source: string; table: string }, writing: string, signal?: AbortSignal, withhold = false): ColdpipeError {
  if (signal?.aborted) return isColdpipeError(error, 'EXPORT_ABORTED') ? error : abortedError(where, signal)
  if (withhold && !isDiskFullError(error) && isColdpipeError(error) && error.context.database !== undefined) return withheldDuckDbError(error, where, writing)
  if (isDiskFullError(error)) {
    if (isColdpipeError(error, 'LAKE_DISK_FULL') && error.context.table) return error
    const path = errnoPath(error) ?? writing
    return new ColdpipeError('LAKE_DISK_FULL', `source ${where.source}, table ${where.table}: no space left on the lake's volume writing ${path}`, {
      cause: error,
      context: { ...where, path },
    })
  }
  if (isColdpipeError(error)) {
    if (error.context.table !== undefined && error.context.source !== undefined) return error
    const refused = refusedValue(error)
    const message = error.context.database !== undefined ? withoutCsvReaderAdvice(error.message) : error.message
    // Lake and DuckDB errors know the file or statement but not which export they served.
    return new ColdpipeError(refused ? 'EXPORT_VALUE_INVALID' : error.code, `source ${where.source}, table ${where.table}: ${message}`, {
      cause: error,
      canRetry: refused ? false : error.canRetry,
      context: { ...error.context, ...where },
    })
  }
  return new ColdpipeError('EXPORT_FAILED', `source ${where.source}, table ${where.table}: ${messageOf(error)}`, { cause: error, context: where })
}

/**
 * A DuckDB error of a table with masked columns: DuckDB's message (a CSV parse or cast error quotes the
 * offending line) and its cause chain may hold a masked value, so only the code, the table, the file and
 * the line number stay (docs/personal-data.md).
 */
function withheldDuckDbError(error: ColdpipeError, where: { source: string; table: string }, writing: string): ColdpipeError {
  const line = /\bline:?\s*(\d+)/i.exec(error.message)?.[1]
  const csv = /^\s*file = (.+)$/m.exec(error.message)?.[1]?.trim()
  const at = [csv ? `CSV ${csv}` : undefined, line ? `line ${line}` : undefined].filter(Boolean).join(', ')
  const refused = refusedValue(error)
  return new ColdpipeError(refused ? 'EXPORT_VALUE_INVALID' : error.code, `source ${where.source}, table ${where.table}: DuckDB could not write ${writing}${at ? ` (${at})` : ''}: DuckDB's message withheld, the table has masked columns`, {
    canRetry: refused ? false : error.canRetry,
    context: { ...where, path: writing, ...(csv ? { csv } : {}), ...(line ? { line: Number(line) } : {}), duckdb: 'withheld' },
  })
}

/**
 * DuckDB refused a value while converting a chunk: a cast that failed (NaN into a DECIMAL), or a value the
 * conversion SQL rejects with error() (a multi-dimensional array). The same rows fail the same way again.
 */
function refusedValue(error: ColdpipeError): boolean {
  const kind = error.context.duckdbError
  return kind === 'Conversion' || kind === 'Invalid Input'
}

/**
 * DuckDB's message for a CSV error without the advice that follows the reason: for a file whose types were
 * auto-detected ("This type was auto-detected…", "types={…}", "ignore_errors=true") and a dump of the reader's
 * settings. The export declares every column's type and its CSV is machine-written, so that advice misleads;
 * the reason, the line number, the offending line and the column stay.
 */
function withoutCsvReaderAdvice(message: string): string {
  const advice = /\n(?:This type was auto-detected from the CSV file\.|Possible (?:solutions|fixes):|\s*file = )/.exec(message)
  return advice ? message.slice(0, advice.index).trimEnd() : message
}

/** The file a Node fs error names (the chunker adds it where Node leaves it out), anywhere in the cause chain. */
function errnoPath(error: unknown): string | undefined {
  for (let at: unknown = error, depth = 0; at && depth < 8; at = (at as { cause?: unknown }).cause, depth++) {
    const path = (at as NodeJS.ErrnoException).path
    if (typeof path === 'string') return path
  }
  return undefined
}
