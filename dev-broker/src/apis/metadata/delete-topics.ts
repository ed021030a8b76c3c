import { ApiKey } from '../../protocol/api-key.ts'
import { Writer } from '../../protocol/writer.ts'
import type { ApiHandler } from '../../server/api-handler.ts'

/*
 * DeleteTopics Request (Version: 0-1) => [topic_names] timeout_ms
 *   topic_names => STRING
 *   timeout_ms => INT32
 *
 * DeleteTopics Response (Version: 0) => [responses]
 *   responses => name error_code
 * DeleteTopics Response (Version: 1) => throttle_time_ms [responses]
 */
export const deleteTopicsHandler: ApiHandler = {
  apiKey: ApiKey.DeleteTopics,
  name: 'DeleteTopics',
  minVersion: 0,
  maxVersion: 1,
  handle({ header, reader, broker }) {
    const names = reader.array((r) => r.string())
    reader.int32()
    const w = new Writer()
    if (header.apiVersion >= 1) w.int32(0)
    w.array(names, (tw, name) => tw.string(name).int16(broker.topics.delete(name)))
    return w
  },
}
