import { KafkaErrorCode } from '../../errors/kafka-error-code.ts'
import { ApiKey } from '../../protocol/api-key.ts'
import { Writer } from '../../protocol/writer.ts'
import type { ApiVersionRange } from '../../server/broker-context.ts'
import type { ApiHandler } from '../../server/api-handler.ts'

/*
 * ApiVersions Request (Version: 0-2) =>
 *
 * ApiVersions Response (Version: 0) => error_code [api_keys]
 *   error_code => INT16
 *   api_keys => api_key min_version max_version
 *     api_key => INT16
 *     min_version => INT16
 *     max_version => INT16
 *
 * ApiVersions Response (Version: 1-2) => error_code [api_keys] throttle_time_ms
 *   throttle_time_ms => INT32
 *
 * A client asking with a newer version than we have (librdkafka opens with v3) must get a v0 response
 * with UNSUPPORTED_VERSION and the list, and then retries with a version from it (KIP-511).
 */
export function writeApiVersionsBody(
  writer: Writer,
  version: number,
  errorCode: KafkaErrorCode,
  apis: readonly ApiVersionRange[],
): Writer {
  writer.int16(errorCode)
  writer.array(apis, (w, api) => w.int16(api.apiKey).int16(api.minVersion).int16(api.maxVersion))
  if (version >= 1) writer.int32(0)
  return writer
}

export const apiVersionsHandler: ApiHandler = {
  apiKey: ApiKey.ApiVersions,
  name: 'ApiVersions',
  minVersion: 0,
  maxVersion: 2,
  handle({ header, broker }) {
    return writeApiVersionsBody(new Writer(), header.apiVersion, KafkaErrorCode.NONE, broker.supportedApis)
  },
}
