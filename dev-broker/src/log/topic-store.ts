import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, renameSync } from 'node:fs'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { DevBrokerError } from '../errors/dev-broker-error.ts'
import { KafkaErrorCode } from '../errors/kafka-error-code.ts'
import { PartitionFiles } from './partition-files.ts'
import { PartitionLog } from './partition-log.ts'

export interface Topic {
  name: string
  partitions: PartitionLog[]
}

export interface TopicStoreOptions {
  /** Where topics live; null keeps everything in memory. */
  dataDir: string | null
  retentionBytesPerPartition: number
  logger: Logger
}

const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/
const TOPIC_FILE = 'topic.json'
const MAX_PARTITIONS = 1000

export function isValidTopicName(name: string): boolean {
  return TOPIC_NAME.test(name) && name !== '.' && name !== '..'
}

/**
 * All topics of the broker. With a data directory each topic is `topics/<name>/` holding `topic.json`
 * (its partition count) and one folder of segment files per partition; topic names are restricted by
 * Kafka to characters that are safe as folder names.
 */
export class TopicStore {
  private readonly topics = new Map<string, Topic>()
  private readonly topicsDir: string | null

  constructor(private readonly options: TopicStoreOptions) {
    this.topicsDir = options.dataDir === null ? null : join(options.dataDir, 'topics')
    if (this.topicsDir !== null) this.load(this.topicsDir)
  }

  private load(topicsDir: string): void {
    mkdirSync(topicsDir, { recursive: true })
    for (const name of readdirSync(topicsDir)) {
      const file = join(topicsDir, name, TOPIC_FILE)
      if (!existsSync(file)) continue
      let partitionCount: number
      try {
        partitionCount = (JSON.parse(readFileSync(file, 'utf8')) as { partitions: number }).partitions
      } catch (cause) {
        throw new DevBrokerError('DATA_DIR_CORRUPT', `unreadable topic file ${file}`, { cause, context: { file } })
      }
      this.topics.set(name, this.openTopic(name, partitionCount))
      this.options.logger.debug({ topic: name, partitions: partitionCount }, 'topic loaded')
    }
  }

  private openTopic(name: string, partitionCount: number): Topic {
    const partitions = Array.from({ length: partitionCount }, (_, index) => {
      const files = this.topicsDir === null ? null : new PartitionFiles(join(this.topicsDir, name, String(index)), this.segmentBytes())
      return new PartitionLog(name, index, this.options.retentionBytesPerPartition, files)
    })
    return { name, partitions }
  }

  /** Small enough that retention can free space segment by segment, large enough to keep file counts low. */
  private segmentBytes(): number {
    return Math.max(64 * 1024, Math.min(16 * 1024 * 1024, Math.floor(this.options.retentionBytesPerPartition / 4)))
  }

  get(name: string): Topic | undefined {
    return this.topics.get(name)
  }

  partition(topic: string, partition: number): PartitionLog | undefined {
    return this.topics.get(topic)?.partitions[partition]
  }

  list(): Topic[] {
    return [...this.topics.values()]
  }

  /** Validates the way CreateTopics does; returns the Kafka error code for the answer. */
  checkCreate(name: string, partitionCount: number): KafkaErrorCode {
    if (!isValidTopicName(name)) return KafkaErrorCode.INVALID_TOPIC_EXCEPTION
    if (this.topics.has(name)) return KafkaErrorCode.TOPIC_ALREADY_EXISTS
    if (!Number.isInteger(partitionCount) || partitionCount < 1 || partitionCount > MAX_PARTITIONS) {
      return KafkaErrorCode.INVALID_PARTITIONS
    }
    return KafkaErrorCode.NONE
  }

  create(name: string, partitionCount: number): KafkaErrorCode {
    const errorCode = this.checkCreate(name, partitionCount)
    if (errorCode !== KafkaErrorCode.NONE) return errorCode
    if (this.topicsDir !== null) {
      const dir = join(this.topicsDir, name)
      mkdirSync(dir, { recursive: true })
      // Written before the partitions exist and renamed into place, so a crash never leaves a half topic.
      writeFileSync(join(dir, `${TOPIC_FILE}.tmp`), JSON.stringify({ partitions: partitionCount }))
      renameSync(join(dir, `${TOPIC_FILE}.tmp`), join(dir, TOPIC_FILE))
    }
    this.topics.set(name, this.openTopic(name, partitionCount))
    this.options.logger.info({ topic: name, partitions: partitionCount }, 'topic created')
    return KafkaErrorCode.NONE
  }

  delete(name: string): KafkaErrorCode {
    const topic = this.topics.get(name)
    if (!topic) return KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION
    this.topics.delete(name)
    for (const partition of topic.partitions) partition.destroy()
    if (this.topicsDir !== null) rmSync(join(this.topicsDir, name), { recursive: true, force: true })
    this.options.logger.info({ topic: name }, 'topic deleted')
    return KafkaErrorCode.NONE
  }

  close(): void {
    for (const topic of this.topics.values()) for (const partition of topic.partitions) partition.close()
  }
}
