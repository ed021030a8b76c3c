import type { Logger } from 'pino'
import { KafkaErrorCode } from '../errors/kafka-error-code.ts'
import type { GroupCoordinator } from '../groups/group-coordinator.ts'
import type { OffsetStore } from '../groups/offset-store.ts'
import type { Topic, TopicStore } from '../log/topic-store.ts'

export interface ApiVersionRange {
  apiKey: number
  minVersion: number
  maxVersion: number
}

/** What request handlers may use: the broker's identity, its stores and its settings. */
export interface BrokerContext {
  nodeId: number
  /** The address clients are told to connect to (Metadata, FindCoordinator). */
  advertisedHost: string
  port: number
  clusterId: string
  autoCreateTopics: boolean
  defaultPartitions: number
  topics: TopicStore
  offsets: OffsetStore
  groups: GroupCoordinator
  supportedApis: readonly ApiVersionRange[]
  nextProducerId(): number
  logger: Logger
}

/**
 * The topic, created on first use when the broker allows it (as `auto.create.topics.enable` does);
 * otherwise the Kafka error code to answer with.
 */
export function topicOrAutoCreate(broker: BrokerContext, name: string, allowAutoCreate: boolean): Topic | KafkaErrorCode {
  const topic = broker.topics.get(name)
  if (topic) return topic
  if (!allowAutoCreate || !broker.autoCreateTopics) return KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION
  const errorCode = broker.topics.create(name, broker.defaultPartitions)
  if (errorCode !== KafkaErrorCode.NONE) return errorCode
  return broker.topics.get(name)!
}
