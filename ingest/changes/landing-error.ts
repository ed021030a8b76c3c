import { ColdpipeError, messageOf } from '../../core/errors.ts'
import { isDiskFullError } from '../../lake/index.ts'

/** Where a landing step failed: the lake file it was writing, and the records it was landing. */
export interface LandingPlace {
  /** The file the step writes (absolute, or relative to the lake root). */
  path: string
  topic: string
  partition: number
  step: 'staging' | 'parquet' | 'dead-letters' | 'table-types' | 'commit'
}

/**
 * The error a failed landing step surfaces: a full disk becomes LAKE_DISK_FULL naming the path; a DuckDB
 * failure (coded by core/duckdb) becomes INGEST_FAILED naming the file, the topic and the partition; other
 * coded errors pass as they are.
 */
export function landingError(error: unknown, place: LandingPlace, fromDuckDb = false, redact = false): ColdpipeError {
  const context = { path: place.path, topic: place.topic, partition: place.partition, step: place.step }
  if (isDiskFullError(error)) {
    if (error instanceof ColdpipeError && error.code === 'LAKE_DISK_FULL') {
      // Raised by lake/ already (naming its own file): keep its path, add where in the landing it was.
      const path = String(error.context.target ?? error.context.path ?? place.path)
      const message = error.message.includes(path) ? error.message : `${error.message}: ${path}`
      return new ColdpipeError('LAKE_DISK_FULL', `${message} (${place.step} of ${place.topic}[${place.partition}])`, {
        cause: error,
        context: { ...error.context, ...context, path },
      })
    }
    return new ColdpipeError('LAKE_DISK_FULL', `no space left on the lake's volume writing ${place.path} (${place.step} of ${place.topic}[${place.partition}])`, {
      cause: error,
      context,
    })
  }
  if (fromDuckDb && redact) {
    // DuckDB's message (and so its cause chain) may quote a row's value; the table has masked columns.
    const code = error instanceof ColdpipeError ? error.code : 'unknown'
    return new ColdpipeError('INGEST_FAILED', `DuckDB could not write ${place.path} (${place.step} of ${place.topic}[${place.partition}]): DuckDB's message withheld, the table has masked columns (${code})`, {
      context: { ...context, duckdb: 'withheld' },
    })
  }
  if (fromDuckDb) {
    const detail = messageOf(error).split('\n')[0]
    return new ColdpipeError('INGEST_FAILED', `DuckDB could not write ${place.path} (${place.step} of ${place.topic}[${place.partition}]): ${detail}`, {
      cause: error,
      context: { ...context, duckdb: detail },
    })
  }
  if (error instanceof ColdpipeError) return error
  return new ColdpipeError('LAKE_IO_FAILED', `cannot write ${place.path} (${place.step} of ${place.topic}[${place.partition}]): ${messageOf(error)}`, {
    cause: error,
    context,
  })
}
