import type { Logger } from 'pino'
import { apiHandlers } from '../apis/api-registry.ts'
import { writeApiVersionsBody } from '../apis/versions/api-versions.ts'
import { KafkaErrorCode } from '../errors/kafka-error-code.ts'
import { Reader } from '../protocol/reader.ts'
import { readRequestHeader } from '../protocol/request-header.ts'
import { Writer } from '../protocol/writer.ts'
import type { ApiHandler } from './api-handler.ts'
import type { BrokerContext } from './broker-context.ts'

export interface RoutedResponse {
  correlationId: number
  /** Null when the request takes no response. */
  body: Writer | null
}

const handlersByKey = new Map<number, ApiHandler>(apiHandlers.map((h) => [h.apiKey, h]))

/**
 * Parses the request header and hands the body to the API's handler. A key or version we do not
 * implement is answered, never left hanging: with UNSUPPORTED_VERSION followed by our version list,
 * which is exactly the ApiVersions v0 error shape and, for other APIs, an error code a client can read
 * at the head of the body.
 */
export async function routeRequest(
  frame: Buffer,
  broker: BrokerContext,
  connection: { clientHost: string; signal: AbortSignal; logger: Logger },
): Promise<RoutedResponse> {
  const reader = new Reader(frame)
  const header = readRequestHeader(reader)
  const handler = handlersByKey.get(header.apiKey)
  if (!handler || header.apiVersion < handler.minVersion || header.apiVersion > handler.maxVersion) {
    connection.logger.debug({ apiKey: header.apiKey, apiVersion: header.apiVersion }, 'unsupported api version')
    const body = writeApiVersionsBody(new Writer(), 0, KafkaErrorCode.UNSUPPORTED_VERSION, broker.supportedApis)
    return { correlationId: header.correlationId, body }
  }
  const body = await handler.handle({
    header,
    reader,
    clientHost: connection.clientHost,
    signal: connection.signal,
    broker,
  })
  return { correlationId: header.correlationId, body }
}
