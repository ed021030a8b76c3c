import { ColdpipeError, isColdpipeError, messageOf } from '../../core/errors.ts'

/** Node/driver error codes that mean the connection, not the query, failed: worth a retry. */
const connectionCodes = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST', 'ER_CON_COUNT_ERROR',
  // MariaDB/MySQL: the server killed the query or the connection (KILL QUERY / KILL), server shutting down
  'ER_QUERY_INTERRUPTED', 'ER_CONNECTION_KILLED', 'ER_SERVER_SHUTDOWN', 'ER_NET_READ_INTERRUPTED', 'ER_NET_WRITE_INTERRUPTED',
  // Postgres: admin shutdown, crash shutdown, cannot connect now, too many connections, query canceled
  '57P01', '57P02', '57P03', '57014', '53300', '08000', '08003', '08006', '08001', '08004',
])

/** Driver codes of a client-side read timeout (mysql2's query timeout). */
const timeoutCodes = new Set(['PROTOCOL_SEQUENCE_TIMEOUT'])

export function isConnectionFailure(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code
  if (typeof code === 'string' && connectionCodes.has(code)) return true
  return /Connection terminated|connection timeout|Connection lost|socket hang up|timeout expired|not queryable|closed state/i.test(messageOf(error))
}

function isReadTimeout(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code
  // pg's query_timeout error has no code, only this text; it is a foreign error crossing our boundary here.
  return (typeof code === 'string' && timeoutCodes.has(code)) || /^Query read timeout$/.test(messageOf(error))
}

/** Wraps a driver error as a coded error; connection failures and timeouts can be retried, query errors cannot. */
export function sourceError(error: unknown, source: string, what: string, context: Record<string, unknown> = {}): ColdpipeError {
  if (isColdpipeError(error)) return error
  if (isReadTimeout(error)) {
    return new ColdpipeError('SOURCE_READ_TIMEOUT', `source ${source}: ${what}: no answer in time (${messageOf(error)})`, {
      cause: error,
      context: { source, ...context },
    })
  }
  const connection = isConnectionFailure(error)
  const driverCode = (error as { code?: unknown } | undefined)?.code
  return new ColdpipeError(connection ? 'SOURCE_CONNECT_FAILED' : 'SOURCE_QUERY_FAILED', `source ${source}: ${what}: ${messageOf(error)}`, {
    cause: error,
    canRetry: connection,
    context: { source, ...context, ...(typeof driverCode === 'string' ? { driverCode } : {}) },
  })
}

/**
 * A fault of the source or the network on the way (connection lost, backend terminated, query killed, a
 * stall): the table's attempt is retried on a fresh connection and counts towards the source's breaker.
 * Anything else (a type, schema or disk error) fails the table at once and says nothing about the source.
 */
export function isSourceFault(error: unknown): boolean {
  return isColdpipeError(error) && error.canRetry && (error.code === 'SOURCE_CONNECT_FAILED' || error.code === 'SOURCE_READ_TIMEOUT')
}
