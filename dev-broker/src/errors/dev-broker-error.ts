/**
 * Broker-internal failures (as opposed to Kafka error codes sent to clients). Callers branch on `code`,
 * never on the message; `context` says where (topic, partition, offset, file, connection).
 */
export const devBrokerErrorDefinitions = {
  /** A request frame that does not parse: the connection it came from is closed. */
  MALFORMED_REQUEST: { canRetry: false },
  /** A frame larger than the configured limit: the connection is closed before reading it. */
  FRAME_TOO_LARGE: { canRetry: false },
  /** A record batch that fails validation (size, magic, CRC32C, compression). */
  CORRUPT_RECORD_BATCH: { canRetry: false },
  /** A data directory entry that cannot be read back. */
  DATA_DIR_CORRUPT: { canRetry: false },
  /** Reading or writing the data directory failed. */
  DATA_DIR_IO: { canRetry: true },
  /** The listening socket could not be opened. */
  LISTEN_FAILED: { canRetry: true },
  /** Command-line arguments that do not make sense. */
  CLI_ARGUMENT_INVALID: { canRetry: false },
} as const satisfies Record<string, { canRetry: boolean }>

export type DevBrokerErrorCode = keyof typeof devBrokerErrorDefinitions

export interface DevBrokerErrorOptions {
  cause?: unknown
  context?: Record<string, unknown>
  canRetry?: boolean
}

export class DevBrokerError extends Error {
  readonly code: DevBrokerErrorCode
  readonly canRetry: boolean
  readonly context: Record<string, unknown>

  constructor(code: DevBrokerErrorCode, message: string, options: DevBrokerErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'DevBrokerError'
    this.code = code
    this.canRetry = options.canRetry ?? devBrokerErrorDefinitions[code].canRetry
    this.context = options.context ?? {}
  }
}

export function isDevBrokerError(error: unknown, code?: DevBrokerErrorCode): error is DevBrokerError {
  return error instanceof DevBrokerError && (code === undefined || error.code === code)
}
