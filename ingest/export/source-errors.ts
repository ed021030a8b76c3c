import { ColdpipeError, isColdpipeError, messageOf } from '../../core/errors.ts'

/** Node/driver error codes that mean the connection, not the query, failed: worth a retry. */
const connectionCodes = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST', 'ER_CON_COUNT_ERROR',
  // Postgres: admin shutdown, crash shutdown, cannot connect now, too many connections
  '57P01', '57P02', '57P03', '53300', '08000', '08003', '08006', '08001', '08004',
])

export function isConnectionFailure(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code
  if (typeof code === 'string' && connectionCodes.has(code)) return true
  return /Connection terminated|connection timeout|Connection lost|socket hang up|timeout expired/i.test(messageOf(error))
}

/** Wraps a driver error as a coded error; connection failures can be retried, query errors cannot. */
export function sourceError(error: unknown, source: string, what: string, context: Record<string, unknown> = {}): ColdpipeError {
  if (isColdpipeError(error)) return error
  const connection = isConnectionFailure(error)
  return new ColdpipeError(connection ? 'SOURCE_CONNECT_FAILED' : 'SOURCE_QUERY_FAILED', `source ${source}: ${what}: ${messageOf(error)}`, {
    cause: error,
    canRetry: connection,
    context: { source, ...context },
  })
}
