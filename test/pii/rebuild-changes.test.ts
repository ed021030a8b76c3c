import { createHmac, randomUUID } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { openDatabase, quoteLiteral, type Database } from '../../core/duckdb/index.ts'
import { ColdpipeError } from '../../core/errors.ts'
import { silentLogger } from '../../core/logger.ts'
import { BatchLander } from '../../ingest/changes/batch-lander.ts'
import type { ChangeRecord } from '../../ingest/changes/change-record.ts'
import { rebuildMasking } from '../../ingest/pii/index.ts'
import { CommitLog } from '../../lake/index.ts'
import { withoutSchema } from '../ingest/fixtures/envelopes.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { findPlaintext, maskLake, testKeyText } from './pii-fixtures.ts'

const topic = 'crm.public.contacts'
const config = { topic, format: 'debezium' as const, service: 'crm', table: 'contacts', key: ['id'] }

function record(offset: number, value: string, key: string | null): ChangeRecord {
  return { topic, partition: 0, offset: String(offset), key: key === null ? null : Buffer.from(key), value: Buffer.from(value), headers: {}, timestamp: String(1_767_225_600_000 + offset) }
}

async function rows(lake: string): Promise<Record<string, unknown>[]> {
  const log = await CommitLog.open(lake)
  const files = [...log.activeFiles().values()].map((f) => quoteLiteral(log.layout.absolute(f.path)))
  const db = await openDatabase(':memory:')
  try {
    return (await db.queryJson(`SELECT * FROM read_parquet([${files.join(', ')}], union_by_name = true, hive_partitioning = false) ORDER BY _cp_offset`)).rows
  } finally {
    db.close()
  }
}

describe('rebuilding the masking of change history', () => {
  it('hashes a column of landed change files and dead letters that held plaintext; the next batch lands', async () => {
    const lake = await tempDir()
    const db: Database = await openDatabase(':memory:', { errorCode: 'INGEST_FAILED' })
    onTestFinished(() => db.close())
    const lander = new BatchLander([db], await CommitLog.open(lake), 'run-test', silentLogger)
    const tag = randomUUID().slice(0, 8)
    const email = (i: number): string => `c${i}-${tag}@example.com`
    await lander.land(config, 0, [
      record(0, withoutSchema({ op: 'c', after: { id: 1, email: email(1) } }), JSON.stringify({ id: 1 })),
      record(1, withoutSchema({ op: 'c', after: { id: 2, email: email(2) } }), JSON.stringify({ id: 2 })),
      record(2, withoutSchema({ op: 'c', after: null, before: { id: 3, email: email(3) } }), JSON.stringify({ id: 3 })),
    ])
    expect((await findPlaintext([email(1), email(3)], [lake])).length).toBeGreaterThan(0)

    const rules = maskLake(lake, [{ column: 'crm.contacts.email', action: 'hash' }])
    const refused = await lander.land(config, 0, [record(3, withoutSchema({ op: 'c', after: { id: 4, email: email(4) } }), JSON.stringify({ id: 4 }))]).catch((e: unknown) => e)
    expect((refused as ColdpipeError).code).toBe('PII_MASKING_CHANGED')

    expect(await rebuildMasking({ lakeRoot: lake, rules })).toMatchObject([{ table: 'crm.contacts', action: 'rewritten', filesRewritten: 1, deadLetterFiles: 1 }])
    expect(await findPlaintext([email(1), email(2), email(3)], [lake])).toEqual([])
    const hmac = (text: string): string => createHmac('sha256', testKeyText).update(text).digest('hex')
    expect((await rows(lake)).map((r) => [r.id, r.email, r._cp_key])).toEqual([
      [1, hmac(email(1)), '{"id":1}'],
      [2, hmac(email(2)), '{"id":2}'],
    ])
    const dead = join(lake, '_dead', 'crm', 'contacts')
    const [file] = (await readdir(dead, { recursive: true })).map(String).filter((n) => n.endsWith('.ndjson'))
    const letter = JSON.parse((await readFile(join(dead, file!), 'utf8')).trim())
    expect(JSON.parse(letter.payload).before).toEqual({ id: 3, email: hmac(email(3)) })

    expect((await lander.land(config, 0, [record(3, withoutSchema({ op: 'c', after: { id: 4, email: email(4) } }), JSON.stringify({ id: 4 }))])).rows).toBe(1)
    expect((await rows(lake)).at(-1)).toMatchObject({ id: 4, email: hmac(email(4)) })
  })
})
