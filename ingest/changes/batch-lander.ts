import { rm } from 'node:fs/promises'
import type { Logger } from '../../core/logger.ts'
import { quoteLiteral, type Database } from '../../core/duckdb/index.ts'
import { ColdpipeError } from '../../core/errors.ts'
import {
  changesIdempotencyKey,
  CommitLog,
  isDiskFullError,
  kafkaWatermarkKey,
  tempFileIn,
  writeDeadLetters,
  writeParquetToLake,
  type Commit,
  type DeadLetter,
  type LakeFile,
} from '../../lake/index.ts'
import {
  DebeziumDecoder,
  nativeChangePlan,
  typeChangeBatch,
  typeEventBatch,
  type ColumnSpec,
  type TypedField,
  type TypedBatch,
} from '../../transform/index.ts'
import type { ChangeRecord } from './change-record.ts'
import type { ChangeTopicConfig } from './changes-config.ts'
import { landingError } from './landing-error.ts'
import { deadLetterOf, decodeRecords } from './record-decoding.ts'
import { selectFromNdjson, writeBuffers, writeLines } from './ndjson-file.ts'
import { TableTypesState } from './table-types-state.ts'
import { stageRecords, type StagedLines } from './receipt-staging.ts'
import { openTableLanding, type TableLanding } from '../pii/table-landing.ts'
import { probeStaged } from '../pii/staging-probe.ts'

export interface LandOutcome {
  topic: string
  partition: number
  /** The offset range this landing covers (consumed records, whether landed, skipped or dead). */
  firstOffset: string
  lastOffset: string
  rows: number
  tombstones: number
  deadLetters: number
  /** Dead letters by error code. */
  deadLetterCodes: Record<string, number>
  /** Records at or below the lake's watermark, already landed by an earlier run. */
  skipped: number
  /** The lake commit (undefined when every record was already landed). */
  commit?: Commit
  duplicate: boolean
}

export function watermarkKey(topic: string, partition: number): string {
  return kafkaWatermarkKey(topic, partition)
}

export function tableOf(topic: ChangeTopicConfig): string {
  return topic.table ?? (topic.format === 'integration-event' ? 'events' : topic.topic.split('.').pop()!)
}

/** Each retry follows a commit by another member, so this only bounds a pathological tug of war. */
const maxWatermarkRetries = 5

function pad(offset: string): string {
  return offset.padStart(20, '0')
}

/** A batch ready to land: how many rows, their columns, and how to write them as Parquet. */
interface Prepared {
  typing: 'js' | 'duckdb'
  rows: number
  columns: ColumnSpec[]
  tombstones: number
  letters: DeadLetter[]
  newestSourceMs: number
  /** Rows written once `write` ran (fewer than `rows` when the erasure list kept some out). */
  written?: number
  tableTypes: Record<string, string> | undefined
  write(path: string): Promise<number>
  cleanup(): Promise<void>
}


/**
 * Lands one topic-partition offset range: decodes and types the records, quarantines what cannot be
 * landed, writes one Parquet file named after the range, and commits it to the lake with the range's
 * idempotency key and the partition's watermark. Records at or below the watermark are skipped, so a
 * replay that does not align with earlier batch boundaries still lands each record once.
 */
export class BatchLander {
  private readonly types: TableTypesState
  private readonly decoders = new Map<string, DebeziumDecoder>()

  /**
   * `dbs`: connections to one DuckDB instance. Partitions are spread over them so that landings of
   * different partitions run at the same time (one connection runs one statement at a time).
   */
  constructor(
    private readonly dbs: Database[],
    private readonly log: CommitLog,
    private readonly runId: string,
    private readonly logger: Logger,
    /** Type schema'd Debezium batches in DuckDB when they qualify (tests turn it off to cover the JavaScript way). */
    private readonly nativeTyping = true,
  ) {
    this.types = new TableTypesState(log.layout)
  }

  /** The last offset landed for a partition, or undefined when nothing has been. */
  async landedPosition(topic: string, partition: number): Promise<bigint | undefined> {
    // Reads the commits other members made since the last look; the log keeps the latest watermark per key.
    await this.log.refresh()
    const position = this.log.watermark(watermarkKey(topic, partition))?.position
    return position === null || position === undefined ? undefined : BigInt(position)
  }

  /**
   * Lands a batch. When another member of the group lands part of the same range first (the partition
   * moved in a rebalance while this batch was in flight), the conditional commit refuses, and the batch
   * is landed again from the new watermark on, so each record lands once. `staged`: the batch's NDJSON
   * lines as staged on arrival (ReceiptStaging), used when the whole batch lands.
   */
  async land(config: ChangeTopicConfig, partition: number, batch: ChangeRecord[], staged?: StagedLines): Promise<LandOutcome> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.landOnce(config, partition, batch, staged)
      } catch (error) {
        if (!(error instanceof ColdpipeError && error.code === 'LAKE_WATERMARK_MOVED') || attempt >= maxWatermarkRetries) throw error
        this.logger.info({ topic: config.topic, partition, attempt }, 'another member landed part of this range first; landing the rest')
      }
    }
  }

  private async landOnce(config: ChangeTopicConfig, partition: number, batch: ChangeRecord[], staged: StagedLines | undefined): Promise<LandOutcome> {
    if (batch.length === 0) throw new ColdpipeError('INTERNAL', 'land() needs at least one record', { context: { topic: config.topic, partition } })
    const topic = config.topic
    const landed = await this.landedPosition(topic, partition)
    // Offsets rise within a batch: when the first lies above the watermark, all do (no BigInt per record).
    const records = landed === undefined || BigInt(batch[0]!.offset) > landed ? batch : batch.filter((r) => BigInt(r.offset) > landed)
    const skipped = batch.length - records.length
    const base = { topic, partition, tombstones: 0, deadLetters: 0, deadLetterCodes: {}, rows: 0, skipped, duplicate: false }
    if (records.length === 0) return { ...base, firstOffset: batch[0]!.offset, lastOffset: batch.at(-1)!.offset }
    const firstOffset = records[0]!.offset
    const lastOffset = records.at(-1)!.offset
    const idempotencyKey = changesIdempotencyKey(topic, partition, firstOffset, lastOffset)
    const existing = this.log.findByKey(idempotencyKey)
    if (existing) return { ...base, firstOffset, lastOffset, commit: existing, duplicate: true }

    const service = config.service
    const table = tableOf(config)
    const date = new Date(Number(records[0]!.timestamp)).toISOString().slice(0, 10)
    const path = this.log.layout.changeFile({ service, table, date, topic, partition, firstOffset, lastOffset })
    // Masking and the erasure list apply before anything of the batch reaches the lake (docs/personal-data.md).
    const landing = await openTableLanding(this.log, [this.dbFor(partition)], service, table)
    let prepared =
      (config.format === 'debezium' && this.nativeTyping ? await this.prepareNative(config, partition, records, landing, skipped === 0 ? staged : undefined) : undefined) ?? (await this.prepareInJs(config, partition, records, landing))
    let bytes: number | undefined
    if (prepared.typing === 'duckdb') {
      try {
        bytes = await prepared.write(path)
      } catch (error) {
        await prepared.cleanup()
        // A full disk fails the JavaScript way too: report it rather than redo the batch.
        if (isDiskFullError(error)) throw landingError(error, { path: this.log.layout.absolute(path), topic, partition, step: 'parquet' }, true, landing.active)
        // Anything DuckDB refuses (a value that does not convert, a missing op) is sorted out record by record in
        // JavaScript. DuckDB's message may quote a value: not logged for a table with masked columns.
        this.logger.debug({ ...(landing.active ? { code: (error as { code?: string }).code } : { err: error }), topic, partition }, 'DuckDB-side typing declined the batch; typing in JavaScript')
        prepared = await this.prepareInJs(config, partition, records, landing)
      }
    }
    const name = `${topic}~${partition}~${pad(firstOffset)}-${pad(lastOffset)}`
    let deadLetterFile: string | undefined
    try {
      if (landing.active) prepared.letters = prepared.letters.flatMap((letter) => landing.maskLetter(letter) ?? [])
      if (prepared.letters.length > 0) {
        prepared.letters.sort((a, b) => Number(BigInt(a.source.offset as string) - BigInt(b.source.offset as string)))
        const where = { service, table, name }
        deadLetterFile = this.log.layout.deadLetterFile({ ...where, date: prepared.letters[0]!.at.slice(0, 10) })
        try {
          await writeDeadLetters(this.log.layout, where, prepared.letters)
        } catch (error) {
          throw landingError(error, { path: deadLetterFile, topic, partition, step: 'dead-letters' })
        }
        for (const letter of prepared.letters) {
          this.logger.warn({ topic, partition, offset: letter.source.offset, field: letter.field, code: letter.code, reason: letter.reason }, 'change event quarantined to dead letters')
        }
      }
      const add: LakeFile[] = []
      if (prepared.rows > 0) bytes ??= await prepared.write(path)
      const rows = prepared.written ?? prepared.rows
      // Every row of the batch was kept out by the erasure list: the empty file is not added.
      if (prepared.rows > 0 && rows === 0) await rm(this.log.layout.absolute(path), { force: true })
      if (rows > 0) {
        add.push({
          path,
          service,
          table,
          origin: 'changes',
          rows,
          bytes: bytes!,
          columns: landing.maskColumns(prepared.columns).map((c) => ({ name: c.name, type: c.type })),
          ...(config.key ? { key: config.key } : {}),
          topic,
          partition,
          firstOffset,
          lastOffset,
        })
        if (prepared.tableTypes) {
          await this.types.merge(service, table, prepared.tableTypes).catch((error: unknown) => {
            throw landingError(error, { path: this.log.layout.stateDir, topic, partition, step: 'table-types' })
          })
        }
      }
      const newest = prepared.newestSourceMs > 0 ? prepared.newestSourceMs : Math.max(...records.map((r) => Number(r.timestamp)))
      let result: Awaited<ReturnType<CommitLog['commit']>>
      try {
        result = await this.log.commit({
          kind: 'changes',
          runId: this.runId,
          idempotencyKey,
          add,
          expectWatermarks: { [watermarkKey(topic, partition)]: landed === undefined ? null : String(landed) },
          watermarks: [{ key: watermarkKey(topic, partition), service, table, kind: 'kafka-offset', position: lastOffset, asOf: new Date(newest).toISOString() }],
          info: { records: records.length, rows, tombstones: prepared.tombstones, deadLetters: prepared.letters.length, typing: prepared.typing },
        })
      } catch (error) {
        if (error instanceof ColdpipeError && error.code === 'LAKE_WATERMARK_MOVED') throw error
        throw landingError(error, { path: this.log.layout.commitFile(this.log.latestVersion + 1), topic, partition, step: 'commit' })
      }
      return {
        ...base,
        firstOffset,
        lastOffset,
        rows,
        tombstones: prepared.tombstones,
        deadLetters: prepared.letters.length,
        deadLetterCodes: prepared.letters.reduce<Record<string, number>>((acc, l) => ({ ...acc, [l.code]: (acc[l.code] ?? 0) + 1 }), {}),
        commit: result.commit,
        duplicate: result.duplicate,
      }
    } catch (error) {
      // Refused (LAKE_WATERMARK_MOVED: the rest is landed again under another range's name) or failed (a
      // full disk): no commit names this range's Parquet or dead-letter file, so they go.
      await this.removeUncommitted(idempotencyKey, prepared.rows > 0 ? this.log.layout.absolute(path) : undefined, deadLetterFile)
      throw error
    } finally {
      await prepared.cleanup()
    }
  }

  /**
   * After a landing failed or was refused, the files written for its range take space and no commit
   * names them: removed, unless the commit did land (a failure after its put-if-absent link), which a
   * re-read of the log tells. A commit of the same range always carries the same key, so this never
   * removes a file another member committed.
   */
  private async removeUncommitted(idempotencyKey: string, ...files: (string | undefined)[]): Promise<void> {
    try {
      await this.log.refresh()
      if (this.log.findByKey(idempotencyKey)) return
      for (const file of files) if (file) await rm(file, { force: true })
    } catch (error) {
      this.logger.warn({ err: error, idempotencyKey }, 'could not remove the files of a failed commit; they are orphans that retention removes')
    }
  }

  /** Decodes and types in JavaScript: every format, every Connect type, per-record dead letters. */
  private async prepareInJs(config: ChangeTopicConfig, partition: number, records: ChangeRecord[], landing: TableLanding): Promise<Prepared> {
    const decoded = decodeRecords(this.decoderFor(config.topic), config, records)
    let typed: TypedBatch
    if (config.format === 'debezium') {
      const known = await this.types.read(config.service, tableOf(config))
      typed = typeChangeBatch(decoded.changes, known)
      for (const reject of typed.rejected) {
        const record = records[decoded.recordIndex[reject.index]!]!
        decoded.letters.push(deadLetterOf(record, reject.reason, reject.code ?? 'INGEST_TYPE_CONFLICT', reject.field))
      }
    } else {
      typed = typeEventBatch(decoded.events)
    }
    const prepared: Prepared = {
      typing: 'js',
      rows: typed.rows.length,
      columns: typed.columns,
      tombstones: decoded.tombstones,
      letters: decoded.letters,
      newestSourceMs: decoded.newestSourceMs,
      tableTypes: config.format === 'debezium' ? typed.tableTypes : undefined,
      write: async (path) => {
        const written = await this.writeParquet(typed, path, config.topic, partition, landing)
        prepared.written = written.rows
        return written.bytes
      },
      cleanup: async () => undefined,
    }
    return prepared
  }

  /**
   * The fast way for the common case, a batch of envelopes that all carry one already-seen schema whose
   * fields SQL converts exactly: payload text goes to DuckDB unparsed. Undefined (nothing written) when
   * the batch does not qualify or DuckDB finds anything odd, so the JavaScript way decides per record.
   */
  private async prepareNative(config: ChangeTopicConfig, partition: number, records: ChangeRecord[], landing: TableLanding, staged: StagedLines | undefined): Promise<Prepared | undefined> {
    // Rows of erased subjects are counted out in the JavaScript way, which compares written rows to typed ones;
    // a masked table's raw payloads would put plaintext in the staging file: the JavaScript way masks first.
    if (landing.erasing || landing.masking) return undefined
    const { fields, rows, tombstones, buffers } = staged ?? stageRecords(this.decoderFor(config.topic), records) ?? {}
    if (!fields || !rows || !buffers) return undefined
    // Built per batch (cheap): the plan embeds this batch's topic and partition as constants.
    const plan = nativeChangePlan(fields, config.topic, partition)
    if (!plan) return undefined
    const layout = this.log.layout
    const temp = tempFileIn(layout.tmpDir, '.ndjson')
    await writeBuffers(temp, buffers).catch((error: unknown) => {
      throw landingError(error, { path: temp, topic: config.topic, partition, step: 'staging' })
    })
    await probeStaged({ path: temp, service: config.service, table: tableOf(config), kind: 'changes-ndjson' }).catch(async (error: unknown) => {
      await rm(temp, { force: true })
      throw error
    })
    const prepared: Prepared = {
      typing: 'duckdb',
      rows,
      columns: plan.columns,
      tombstones: tombstones ?? 0,
      letters: [],
      newestSourceMs: 0,
      tableTypes: Object.fromEntries(fields.map((f) => [f.spec.name, f.spec.type])),
      // One pass: read_json → typed columns → Parquet. An invalid envelope makes the statement fail, and
      // land() then types the batch in JavaScript instead.
      write: async (path) => {
        const select = landing.maskSelect(
          `SELECT ${plan.selectList} FROM (` +
          `SELECT p, ${plan.rowImage} AS r, o, ts, k, h FROM read_json(${quoteLiteral(temp)}, format = 'newline_delimited', columns = ${plan.lineColumns})` +
          `) WHERE CASE WHEN ${plan.invalidCondition} THEN error('not a valid change envelope') ELSE true END`,
          plan.columns,
        )
        const written = await writeParquetToLake(this.dbFor(partition), layout, select, path)
        if (written.rows !== rows) {
          throw new ColdpipeError('INGEST_FAILED', `DuckDB-side typing wrote ${written.rows} rows for ${rows} envelopes`, { context: { topic: config.topic, partition, path } })
        }
        const newest = written.max.get('_cp_ts_ms')
        prepared.newestSourceMs = newest === undefined ? 0 : Number(newest)
        return written.bytes
      },
      cleanup: () => rm(temp, { force: true }),
    }
    return prepared
  }

  private dbFor(partition: number): Database {
    return this.dbs[partition % this.dbs.length]!
  }

  /** The topic's Debezium decoder (it learns schemas; shared with staging on arrival). */
  decoderFor(topic: string): DebeziumDecoder {
    let decoder = this.decoders.get(topic)
    if (!decoder) this.decoders.set(topic, (decoder = new DebeziumDecoder()))
    return decoder
  }

  /** NDJSON in the lake's scratch folder, read by DuckDB with explicit column types, copied to Parquet. */
  private async writeParquet(typed: TypedBatch, path: string, topic: string, partition: number, landing: TableLanding): Promise<{ bytes: number; rows: number }> {
    const layout = this.log.layout
    const temp = tempFileIn(layout.tmpDir, '.ndjson')
    const place = { topic, partition }
    try {
      // Masked in memory first: the staging file holds no plaintext of a masked column (docs/personal-data.md).
      const staged = await landing.maskRows(this.dbFor(partition), typed.rows, typed.columns).catch((error: unknown) => {
        // A coded error of ours (no key, say) as it is; DuckDB's message may quote a value: withheld.
        throw error instanceof ColdpipeError && error.context.database === undefined ? error : landingError(error, { ...place, path: temp, step: 'staging' }, true, true)
      })
      await writeLines(temp, staged.rows.map((row) => JSON.stringify(row))).catch((error: unknown) => {
        throw landingError(error, { ...place, path: temp, step: 'staging' })
      })
      await probeStaged({ path: temp, service: landing.service, table: landing.table, kind: 'changes-ndjson' })
      const select = landing.keepSelect(selectFromNdjson(temp, staged.columns), landing.maskColumns(typed.columns))
      const written = await writeParquetToLake(this.dbFor(partition), layout, select, path).catch((error: unknown) => {
        throw landingError(error, { ...place, path: layout.absolute(path), step: 'parquet' }, true, landing.active)
      })
      return { bytes: written.bytes, rows: written.rows }
    } finally {
      await rm(temp, { force: true })
    }
  }
}
