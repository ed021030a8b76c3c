import type { Reader } from './reader.ts'

/**
 * Request Header v1 => request_api_key request_api_version correlation_id client_id
 *   request_api_key => INT16
 *   request_api_version => INT16
 *   correlation_id => INT32
 *   client_id => NULLABLE_STRING
 *
 * Header v2 (flexible versions) appends TAG_BUFFER; this broker implements no flexible version, so it
 * never reads past client_id and answers such requests with UNSUPPORTED_VERSION from the fields above.
 */
export interface RequestHeader {
  apiKey: number
  apiVersion: number
  correlationId: number
  clientId: string | null
}

export function readRequestHeader(reader: Reader): RequestHeader {
  return {
    apiKey: reader.int16(),
    apiVersion: reader.int16(),
    correlationId: reader.int32(),
    clientId: reader.nullableString(),
  }
}
