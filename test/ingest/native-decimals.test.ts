import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openDatabase, type Database } from '../../core/duckdb/index.ts'
import { silentLogger } from '../../core/logger.ts'
import { CommitLog } from '../../lake/index.ts'
import { BatchLander } from '../../ingest/changes/batch-lander.ts'
import type { ChangeRecord } from '../../ingest/changes/change-record.ts'
import type { ChangeTopicConfig } from '../../ingest/changes/changes-config.ts'
import { ReceiptStaging } from '../../ingest/changes/receipt-staging.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { decimalBytes, withSchema, type FieldSchema } from './fixtures/envelopes.ts'
import { readCommittedRows } from './fixtures/lake-readback.ts'

/**
 * DuckDB-side typing converts Connect decimal bytes (big-endian two's complement, up to 8 bytes for DECIMAL(p ≤ 18))
 * in SQL; these pin that it lands exactly what the JavaScript way lands, for every byte length and both signs, and
 * that encodings SQL does not take (no bytes, non-minimal 9 bytes) send the batch the JavaScript way. Keys go through
 * staging on arrival as bytes: any UTF-8 key lands as the JavaScript way lands it.
 */
const dbs: Database[] = []
afterEach(() => {
  for (const db of dbs.splice(0)) db.close()
})

const fields: FieldSchema[] = [
  { type: 'int32', optional: false, field: 'id' },
  { type: 'bytes', optional: true, name: 'org.apache.kafka.connect.data.Decimal', version: 1, parameters: { scale: '4', 'connect.decimal.precision': '18' }, field: 'wide' },
  { type: 'bytes', optional: true, name: 'org.apache.kafka.connect.data.Decimal', version: 1, parameters: { scale: '0', 'connect.decimal.precision': '3' }, field: 'narrow' },
]
const topic: ChangeTopicConfig = { topic: 'shop.public.amounts', format: 'debezium', service: 'shop', table: 'amounts', key: ['id'] }

const edges = [0n, 1n, -1n, 127n, 128n, -128n, -129n, 255n, 256n, 32_767n, 32_768n, -32_768n, -32_769n, 8_388_607n, -8_388_609n]
const wide = [...edges, 2n ** 31n - 1n, -(2n ** 31n), 2n ** 31n, 2n ** 39n + 7n, -(2n ** 47n) - 3n, 2n ** 55n - 1n, -(2n ** 55n), 2n ** 56n, -(2n ** 56n) - 1n, 10n ** 18n - 1n, -(10n ** 18n - 1n), 123_456_789_012_345_678n]

async function land(records: ChangeRecord[], nativeTyping: boolean, staged = false): Promise<{ rows: Record<string, unknown>[]; typing: unknown }> {
  const lake = await tempDir()
  const db = await openDatabase(':memory:', { errorCode: 'INGEST_FAILED' })
  dbs.push(db)
  const log = await CommitLog.open(lake)
  const lander = new BatchLander([db], log, 'run-test', silentLogger, nativeTyping)
  let batch = records
  let lines
  if (staged) {
    const staging = new ReceiptStaging(lander.decoderFor(topic.topic))
    for (const record of records) staging.add(record)
    batch = staging.records
    lines = staging.staged()
  }
  const outcome = await lander.land(topic, 0, batch, lines)
  expect(await readdir(join(lake, '_dead')).catch(() => [])).toEqual([])
  return { rows: (await readCommittedRows(lake)).rows, typing: outcome.commit?.info?.typing }
}

function record(offset: number, value: string, key: Buffer | null = null): ChangeRecord {
  return { topic: topic.topic, partition: 0, offset: String(offset), key, value: Buffer.from(value), headers: {}, timestamp: String(1_704_067_200_000 + offset) }
}

describe('DuckDB-side typing of decimal bytes and staged keys', () => {
  it('lands every byte length and sign exactly as the JavaScript way does', async () => {
    const records = wide.map((unscaled, i) =>
      record(i, withSchema(fields, { op: i % 3 === 2 ? 'd' : 'c', [i % 3 === 2 ? 'before' : 'after']: { id: i, wide: decimalBytes(unscaled), narrow: decimalBytes(edges[i % edges.length]! % 1000n) } })),
    )
    const native = await land(records, true)
    const js = await land(records, false)
    expect(native.typing).toBe('duckdb')
    expect(js.typing).toBe('js')
    expect(native.rows).toEqual(js.rows)
    expect(native.rows.map((r) => r.wide)).toEqual(
      wide.map((u) => {
        const digits = (u < 0n ? -u : u).toString().padStart(5, '0')
        return `${u < 0n ? '-' : ''}${digits.slice(0, -4)}.${digits.slice(-4)}`
      }),
    )
    expect(native.rows[3]).toMatchObject({ narrow: '127' })
  })

  it('sends no bytes and non-minimal 9-byte values the JavaScript way, which lands them the same', async () => {
    const nineBytes = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0x30, 0x39]).toString('base64') // 12345, padded
    const records = [record(0, withSchema(fields, { op: 'c', after: { id: 1, wide: nineBytes, narrow: null } }))]
    const native = await land(records, true)
    expect(native.typing).toBe('js')
    expect(native.rows[0]).toMatchObject({ wide: '1.2345', narrow: null })
  })

  it('lands keys staged on arrival as the JavaScript way does: quotes, backslashes, controls, non-ASCII, invalid UTF-8', async () => {
    const keys = [null, Buffer.from('{"id":1}'), Buffer.from('a\\b"c\u0001\u001f\u007f'), Buffer.from('ünï — ✓ 😀'), Buffer.from([0x61, 0xc2, 0x85, 0x62])]
    const value = (id: number) => withSchema(fields, { op: 'c', after: { id, wide: decimalBytes(BigInt(id)), narrow: null } })
    const native = await land(keys.map((key, i) => record(i, value(i), key)), true, true)
    const js = await land(keys.map((key, i) => record(i, value(i), key)), false)
    expect(native.typing).toBe('duckdb')
    expect(native.rows).toEqual(js.rows)
    expect(native.rows.map((r) => r._cp_key)).toEqual(keys.map((k) => k?.toString('utf8') ?? null))
    // Invalid UTF-8 cannot be read by DuckDB as staged: the batch is typed in JavaScript, which replaces the bad bytes.
    const bad = await land([record(0, value(0), Buffer.from([0x61, 0xff, 0x62]))], true, true)
    expect(bad.typing).toBe('js')
    expect(bad.rows[0]!._cp_key).toBe('a\ufffdb')
  })
})
