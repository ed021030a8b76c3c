import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openDatabase, type Database } from '../../core/duckdb/index.ts'
import { ColdpipeError } from '../../core/errors.ts'
import { silentLogger } from '../../core/logger.ts'
import { BatchLander } from '../../ingest/changes/batch-lander.ts'
import type { ChangeRecord } from '../../ingest/changes/change-record.ts'
import type { ChangeTopicConfig } from '../../ingest/changes/changes-config.ts'
import { CommitLog } from '../../lake/index.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { withoutSchema } from './fixtures/envelopes.ts'

const dbs: Database[] = []
afterEach(() => {
  for (const db of dbs.splice(0)) db.close()
})

describe('DuckDB failures while landing', () => {
  it('surface as INGEST_FAILED naming the Parquet file, topic and partition, and commit nothing', async () => {
    const lake = await tempDir()
    // A real DuckDB failure that is not about the data: too little memory for the Parquet writer.
    const db = await openDatabase(':memory:', { errorCode: 'INGEST_FAILED', memoryLimit: '256KB', threads: 1 })
    dbs.push(db)
    const log = await CommitLog.open(lake)
    const topic: ChangeTopicConfig = { topic: 'inv.items', format: 'debezium', service: 'inv', table: 'items' }
    const records: ChangeRecord[] = Array.from({ length: 3000 }, (_, i) => ({
      topic: topic.topic, partition: 2, offset: String(i), key: null, headers: {}, timestamp: String(1_704_067_200_000 + i),
      value: Buffer.from(withoutSchema({ op: 'c', after: { id: i, note: `n${i}`.repeat(200) } })),
    }))
    const failure = await new BatchLander([db], log, 'run-test', silentLogger).land(topic, 2, records).catch((error: unknown) => error)
    expect(failure).toBeInstanceOf(ColdpipeError)
    const error = failure as ColdpipeError
    expect(error.code).toBe('INGEST_FAILED')
    expect(error.context).toMatchObject({ topic: topic.topic, partition: 2, step: 'parquet', path: expect.stringMatching(/raw\/changes\/inv\/items\/.*inv\.items~2~0+-0+2999\.parquet$/) })
    expect(error.message).toMatch(/^DuckDB could not write .*inv\.items~2~.*\.parquet \(parquet of inv\.items\[2\]\): /)
    expect((await CommitLog.open(lake)).latestVersion).toBe(log.latestVersion)
    expect(await readdir(join(lake, '_tmp'))).toEqual([])
  })
})
