import type { Reader } from '../protocol/reader.ts'
import type { RequestHeader } from '../protocol/request-header.ts'
import type { Writer } from '../protocol/writer.ts'
import type { BrokerContext } from './broker-context.ts'

export interface RequestContext {
  header: RequestHeader
  /** Positioned after the request header. */
  reader: Reader
  clientHost: string
  /** Aborted when the client's connection closes, so parked requests (long polls, joins) let go. */
  signal: AbortSignal
  broker: BrokerContext
}

/** One Kafka API over the range of versions this broker implements for it. */
export interface ApiHandler {
  apiKey: number
  name: string
  minVersion: number
  maxVersion: number
  /** The response body (after the correlation id), or null for requests that get none (acks=0). */
  handle(context: RequestContext): Writer | null | Promise<Writer | null>
}
