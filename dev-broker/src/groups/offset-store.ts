import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { DevBrokerError } from '../errors/dev-broker-error.ts'

export interface CommittedOffset {
  offset: number
  metadata: string | null
}

export interface OffsetCommitEntry extends CommittedOffset {
  topic: string
  partition: number
}

const OFFSETS_FILE = 'group-offsets.jsonl'

/**
 * Committed consumer offsets per group. With a data directory every commit request is appended as one
 * JSON line (Kafka keeps them in a compacted topic; a line log is the same idea); on open the lines are
 * replayed, newest wins, and the file is rewritten compacted.
 */
export class OffsetStore {
  private readonly groups = new Map<string, Map<string, Map<number, CommittedOffset>>>()
  private readonly file: string | null

  constructor(dataDir: string | null) {
    this.file = dataDir === null ? null : join(dataDir, OFFSETS_FILE)
    if (this.file !== null && existsSync(this.file)) this.load(this.file)
  }

  private load(file: string): void {
    const lines = readFileSync(file, 'utf8').split('\n')
    lines.forEach((line, index) => {
      if (line.trim() === '') return
      let record: { group: string; entries: OffsetCommitEntry[] }
      try {
        record = JSON.parse(line) as { group: string; entries: OffsetCommitEntry[] }
      } catch (cause) {
        // A torn last line is what a crash mid-append leaves; anything earlier is real damage.
        if (index >= lines.length - 2) return
        throw new DevBrokerError('DATA_DIR_CORRUPT', `unreadable committed offset line ${index + 1} in ${file}`, {
          cause,
          context: { file, line: index + 1 },
        })
      }
      this.apply(record.group, record.entries)
    })
    const compacted = [...this.groups.keys()].map((group) => JSON.stringify({ group, entries: this.entriesOf(group) }))
    writeFileSync(`${file}.tmp`, compacted.map((l) => `${l}\n`).join(''))
    renameSync(`${file}.tmp`, file)
  }

  private apply(group: string, entries: readonly OffsetCommitEntry[]): void {
    let topics = this.groups.get(group)
    if (!topics) this.groups.set(group, (topics = new Map()))
    for (const entry of entries) {
      let partitions = topics.get(entry.topic)
      if (!partitions) topics.set(entry.topic, (partitions = new Map()))
      partitions.set(entry.partition, { offset: entry.offset, metadata: entry.metadata })
    }
  }

  commit(group: string, entries: readonly OffsetCommitEntry[]): void {
    if (entries.length === 0) return
    if (this.file !== null) {
      try {
        appendFileSync(this.file, `${JSON.stringify({ group, entries })}\n`)
      } catch (cause) {
        throw new DevBrokerError('DATA_DIR_IO', `cannot append committed offsets to ${this.file}`, {
          cause,
          context: { file: this.file, group },
        })
      }
    }
    this.apply(group, entries)
  }

  get(group: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.groups.get(group)?.get(topic)?.get(partition)
  }

  entriesOf(group: string): OffsetCommitEntry[] {
    const entries: OffsetCommitEntry[] = []
    for (const [topic, partitions] of this.groups.get(group) ?? []) {
      for (const [partition, committed] of partitions) entries.push({ topic, partition, ...committed })
    }
    return entries
  }

  groupIds(): string[] {
    return [...this.groups.keys()]
  }
}
