import { ColdpipeError, messageOf } from '../../core/errors.ts'
import { classifySqlError } from '../../warehouse/sql-sandbox.ts'

/**
 * A failure of an ad-hoc query as the code the API answers with: DuckDB running out of its memory_limit is
 * SQL_MEMORY_EXCEEDED (507, like a worker killed over sqlWorkerMaxRssBytes); everything else is classified
 * by the sandbox's one list (SQL_FORBIDDEN for refusals, SQL_INVALID for statements DuckDB cannot run).
 */
export function classifySqlFailure(error: unknown): ColdpipeError {
  const message = messageOf(error)
  if (/Out of Memory Error/.test(message)) {
    return new ColdpipeError('SQL_MEMORY_EXCEEDED', `the query needs more memory than api.sqlMemoryLimit allows: ${message}`, { cause: error, context: { limit: 'sqlMemoryLimit' } })
  }
  return classifySqlError(error)
}
