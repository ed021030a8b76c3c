import type { Database, PreparedSql } from '../core/duckdb/index.ts'
import { ColdpipeError, isColdpipeError, messageOf } from '../core/errors.ts'

/**
 * Engine-level settings every reader of a snapshot gets (reports, ad-hoc SQL over HTTP, `coldpipe sql`):
 * no file or network access (the snapshot's own table files are allowed separately, see
 * SnapshotStore.openReadOnly), no extension downloads or loads, and a configuration no statement can change.
 */
export function sandboxSettings(memoryLimit?: string): Record<string, string> {
  return {
    enable_external_access: 'false',
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
    allow_community_extensions: 'false',
    ...(memoryLimit ? { memory_limit: memoryLimit } : {}),
    lock_configuration: 'true',
  }
}

/**
 * DuckDB's refusals that come from the sandbox. DuckDB exposes no error type beyond the message's prefix
 * and wording, so this list is the one place that reads them:
 * - file/network access with enable_external_access off (also inside `query('…')` and
 *   `json_execute_serialized_sql`, where the refusal surfaces while binding);
 * - extension loading, settings changes on a locked configuration;
 * - `query('…')` handed a statement other than one SELECT (its way of refusing COPY, ATTACH, …).
 */
const sandboxRefusals = [
  /Permission Error/,
  /file system operations are disabled by configuration/,
  /File system \S+ has been disabled by configuration/,
  /Loading external extensions is disabled/,
  /the configuration has been locked/,
  /Cannot change allowed_(directories|paths)/,
  /Modifying the temp_directory has been disabled/,
  /unsigned extensions are disabled/,
  /Displaying unredacted secrets is disabled/,
  /json_execute_serialized_sql cannot execute/,
  /Expected a single SELECT statement/,
  /Cannot execute .*query\(\)/,
]

/** DuckDB error kinds that mean the statement itself is wrong (the caller can fix it). */
const invalidKinds = /^(Parser|Binder|Catalog|Syntax|Conversion|Out of Range|Invalid Input|Not implemented|Type Mismatch|Invalid type|Constraint|Dependency|Sequence) Error/

/** DuckDB's message without coldpipe's prefixes (e.g. "cannot open DuckDB database x: "). */
function engineMessage(message: string): string {
  const at = message.search(/[A-Z][A-Za-z ]* Error:/)
  return at > 0 ? message.slice(at) : message
}

/**
 * Maps a failed statement to the code a caller should see: sandbox refusals → SQL_FORBIDDEN, statements
 * DuckDB cannot parse or bind → SQL_INVALID; anything else (read-only refusals, timeouts, out of memory,
 * I/O) keeps its code.
 */
export function classifySqlError(error: unknown): ColdpipeError {
  const message = messageOf(error)
  if (isColdpipeError(error) && (error.code === 'SQL_FORBIDDEN' || error.code === 'SQL_INVALID')) return error
  if (sandboxRefusals.some((pattern) => pattern.test(message))) {
    return new ColdpipeError('SQL_FORBIDDEN', `refused by the sandbox: ${engineMessage(message)}`, { cause: error, context: { statement: 'SANDBOX' } })
  }
  if (isColdpipeError(error) && error.code !== 'WAREHOUSE_QUERY_FAILED') return error
  if (invalidKinds.test(engineMessage(message))) return new ColdpipeError('SQL_INVALID', engineMessage(message), { cause: error, context: {} })
  return isColdpipeError(error) ? error : new ColdpipeError('WAREHOUSE_QUERY_FAILED', message, { cause: error })
}

/** Statements of one input, split by DuckDB's parser; errors of every step arrive classified. */
export interface SplitStatements {
  count: number
  /** Binds statement `index`; prepare (and run) them in order, as a later one may use an earlier one's result. */
  prepare(index: number): Promise<PreparedSql>
}

/**
 * Splits `sql` into statements with DuckDB's own parser (never a regex: strings, comments and dollar
 * quotes are the engine's business). A parse error anywhere fails the whole input before anything runs.
 */
export async function splitStatements(db: Database, sql: string): Promise<SplitStatements> {
  let statements
  try {
    statements = await db.statements(sql)
  } catch (error) {
    throw classifySqlError(error)
  }
  return {
    count: statements.count,
    prepare: async (index) => {
      let prepared: PreparedSql
      try {
        prepared = await statements.prepare(index)
      } catch (error) {
        throw classifySqlError(error)
      }
      const classified = <T>(work: () => Promise<T>) => work().catch((error: unknown) => Promise.reject(classifySqlError(error)))
      return {
        kind: prepared.kind,
        queryJson: () => classified(() => prepared.queryJson()),
        streamJson: async () => {
          const stream = await classified(() => prepared.streamJson())
          return { columns: stream.columns, chunks: classifiedChunks(stream.chunks) }
        },
        close: () => prepared.close(),
      }
    },
  }
}

async function* classifiedChunks<T>(chunks: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    for await (const chunk of chunks) yield chunk
  } catch (error) {
    throw classifySqlError(error)
  }
}
