import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { openDatabase, quoteLiteral, type Database } from '../../core/duckdb/index.ts'
import { silentLogger } from '../../core/logger.ts'
import { BatchLander } from '../../ingest/changes/batch-lander.ts'
import type { ChangeRecord } from '../../ingest/changes/change-record.ts'
import type { ChangeTopicConfig } from '../../ingest/changes/changes-config.ts'
import { CommitLog } from '../../lake/index.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { decimalBytes, withSchema, withoutSchema, type FieldSchema } from './fixtures/envelopes.ts'
import { committedFiles } from './fixtures/lake-readback.ts'

/**
 * Edge values of every Connect/Debezium type change ingest types, landed both ways (DuckDB-side typing of a
 * qualifying batch, and the JavaScript way) and read back from the Parquet: each lands exactly, or its record
 * is a dead letter naming the field, and both ways agree. Values are written as raw JSON text, as Debezium's
 * JSON converter (Jackson) writes them: 9007199254740993 and -0.0 must reach the lander as written.
 */
let db: Database | undefined
afterAll(() => db?.close())

const topic: ChangeTopicConfig = { topic: 'shop.public.edges', format: 'debezium', service: 'shop', table: 'edges', key: ['id'] }
const placeholder = '@raw@'

type Schema = Omit<FieldSchema, 'field'>

interface Landed {
  typing: unknown
  /** The landed values as DuckDB text (CAST(v AS VARCHAR): -0.0 keeps its sign, BIGINTs their digits). */
  values: (string | null)[]
  /** Dead letters by offset: [field, reason]. */
  letters: Record<string, [string | undefined, string]>
}

function envelope(offset: number, schema: Schema, rawValue: string): ChangeRecord {
  const fields: FieldSchema[] = [{ type: 'int32', optional: false, field: 'id' }, { ...schema, optional: true, field: 'v' }]
  const text = withSchema(fields, { op: 'c', after: { id: offset, v: placeholder } }).replace(`"${placeholder}"`, rawValue)
  return { topic: topic.topic, partition: 0, offset: String(offset), key: null, value: Buffer.from(text), headers: {}, timestamp: String(1_704_067_200_000 + offset) }
}

/** Lands `records` in a fresh lake, one way, and reads back what landed and what went to the dead letters. */
async function land(records: ChangeRecord[], nativeTyping: boolean, column = 'v'): Promise<Landed> {
  db ??= await openDatabase(':memory:', { errorCode: 'INGEST_FAILED' })
  const lake = await tempDir()
  const log = await CommitLog.open(lake)
  const outcome = await new BatchLander([db], log, 'run-test', silentLogger, nativeTyping).land(topic, 0, records)
  const letters: Landed['letters'] = {}
  for (const file of await readdir(join(lake, '_dead'), { recursive: true }).catch(() => [] as string[])) {
    if (!file.endsWith('.ndjson')) continue
    for (const line of (await readFile(join(lake, '_dead', file), 'utf8')).trim().split('\n')) {
      const letter = JSON.parse(line) as { field?: string; reason: string; code: string; source: { offset: string } }
      expect(letter.code).toBe('INGEST_DECODE_FAILED')
      letters[letter.source.offset] = [letter.field, letter.reason]
    }
  }
  const files = (await committedFiles(lake)).map((f) => quoteLiteral(`${lake}/${f.path}`))
  const values =
    files.length === 0 ? [] : (await db.queryJson(`SELECT CAST(${column} AS VARCHAR) AS v FROM read_parquet([${files.join(', ')}]) ORDER BY _cp_offset`)).rows.map((r) => r.v as string | null)
  return { typing: outcome.commit?.info?.typing, values, letters }
}

/**
 * [raw JSON value, what lands as text, or a pattern of the dead letter's reason]; `js` marks a value DuckDB-side typing
 * hands to the JavaScript way; `js-only` one that Debezium's JSON converter never writes into an integer field (a
 * fraction, a boolean): DuckDB-side typing reads integer fields typed, where read_json rounds 1.5 to 2 and reads true
 * as 1, because checking each integer's text cost a fifth of a landing; only the JavaScript way is held to those.
 */
type Edge = [raw: string, expected: string | RegExp, way?: 'js' | 'js-only']

const dead = (reason: RegExp) => reason
const str = (text: string) => JSON.stringify(text)
const debeziumDate: Schema = { type: 'int32', name: 'io.debezium.time.Date', version: 1 }

const kinds: [string, Schema, Edge[]][] = [
  [
    'dates (days since 1970; years 0001 to 9999, BC is refused)',
    debeziumDate,
    [
      ['0', '1970-01-01'],
      ['-1', '1969-12-31'],
      ['-719162', '0001-01-01'],
      ['-719163', dead(/date in years 0001 to 9999/)], // 0001-12-31 BC
      ['-735234', dead(/date in years 0001 to 9999/)], // 15 March 44 BC
      ['2932896', '9999-12-31'],
      ['2932897', dead(/date in years 0001 to 9999/)],
      ['1.5', dead(/an integer/), 'js-only'],
      ['true', dead(/an integer/), 'js-only'],
      ['1e3', '1972-09-27'], // 1000 exactly
    ],
  ],
  ['Connect dates', { type: 'int32', name: 'org.apache.kafka.connect.data.Date' }, [['-719162', '0001-01-01'], ['-2147483648', dead(/date in years 0001 to 9999/)]]],
  [
    'millisecond timestamps',
    { type: 'int64', name: 'io.debezium.time.Timestamp' },
    [
      ['-1', '1969-12-31 23:59:59.999'],
      ['-62135596800000', '0001-01-01 00:00:00'],
      ['-62135596800001', dead(/timestamp in years 0001 to 9999/)],
      ['253402300799999', '9999-12-31 23:59:59.999'],
      ['253402300800000', dead(/timestamp in years 0001 to 9999/)],
      // PostgreSQL's infinity and -infinity as Debezium writes them for a timestamp(3) column.
      ['9223372036825200', 'infinity'],
      ['-9223372036832400', '-infinity'],
      ['9223372036825201', dead(/timestamp in years 0001 to 9999/)],
    ],
  ],
  ['Connect timestamps', { type: 'int64', name: 'org.apache.kafka.connect.data.Timestamp' }, [['-86400001', '1969-12-30 23:59:59.999']]],
  [
    'microsecond timestamps (past 2^53: exact, not through a double)',
    { type: 'int64', name: 'io.debezium.time.MicroTimestamp' },
    [
      ['-1', '1969-12-31 23:59:59.999999'],
      ['-1000001', '1969-12-31 23:59:58.999999'],
      ['1704067200123457', '2024-01-01 00:00:00.123457'],
      ['-62135596800000000', '0001-01-01 00:00:00'],
      ['-62135596799999999', '0001-01-01 00:00:00.000001'],
      ['-62135596800000001', dead(/timestamp in years 0001 to 9999/)],
      ['253402300799999999', '9999-12-31 23:59:59.999999'],
      // PostgreSQL's infinity and -infinity as Debezium writes them (JDBC's DATE_POSITIVE_INFINITY as microseconds).
      ['9223372036825200000', 'infinity'],
      ['-9223372036832400000', '-infinity'],
      ['9223372036825199999', dead(/timestamp in years 0001 to 9999/)],
      ['1704067200123456.5', dead(/an integer/), 'js-only'],
    ],
  ],
  [
    'nanosecond timestamps',
    { type: 'int64', name: 'io.debezium.time.NanoTimestamp' },
    [
      ['-1', '1969-12-31 23:59:59.999999999'],
      ['1704067200123456789', '2024-01-01 00:00:00.123456789'],
      ['9223372036854775806', '2262-04-11 23:47:16.854775806'],
      ['9223372036854775807', dead(/TIMESTAMP_NS/)], // DuckDB's infinity
      ['-9223286400000000000', '1677-09-22 00:00:00'],
      ['-9223372036854775808', dead(/TIMESTAMP_NS/)],
      ['9223372036854775808', dead(/int64/)],
    ],
  ],
  [
    'zoned timestamps (ISO text with an offset)',
    { type: 'string', name: 'io.debezium.time.ZonedTimestamp' },
    [
      [str('2024-01-01T10:00:00+05:30'), '2024-01-01 04:30:00+00'],
      [str('2024-01-01T10:00:00-08:00'), '2024-01-01 18:00:00+00'],
      [str('2024-01-01T10:00:00.1Z'), '2024-01-01 10:00:00.1+00'],
      [str('2024-01-01T10:00:00.123456Z'), '2024-01-01 10:00:00.123456+00'],
      [str('2024-01-01T10:00:00.123456000Z'), '2024-01-01 10:00:00.123456+00'],
      // TIMESTAMPTZ holds microseconds: 100 ns digits would be dropped.
      [str('2024-01-01T10:00:00.1234567Z'), dead(/whole microseconds/)],
      [str('2024-01-01T10:00:00.123456789+01:00'), dead(/whole microseconds/)],
      [str('0001-01-01T00:00:00Z'), '0001-01-01 00:00:00+00'],
      [str('0001-01-01T00:00:00+01:00'), '0001-12-31 (BC) 23:00:00+00'], // the same instant, in 1 BC as UTC
      [str('9999-12-31T23:59:59.999999Z'), '9999-12-31 23:59:59.999999+00'],
      // Debezium writes PostgreSQL's infinite timestamptz as these words.
      [str('infinity'), 'infinity'],
      [str('-infinity'), '-infinity'],
      [str('Infinity'), dead(/ISO-8601/)],
      // Java's ISO form of 15 March 44 BC and of year 10000: DuckDB reads the first, but years before 0001 are refused alike.
      [str('-0043-03-15T12:00:00Z'), dead(/ISO-8601/)],
      [str('+10000-01-01T00:00:00Z'), dead(/ISO-8601/)],
      [str('2024-01-01T24:00:00Z'), dead(/ISO-8601/)],
      [str('2024-02-30T00:00:00Z'), dead(/ISO-8601/)],
      [str('2024-01-01 10:00:00 America/New_York'), dead(/ISO-8601/)],
      [str('garbage'), dead(/ISO-8601/)],
      [str(''), dead(/ISO-8601/)],
      // No offset is UTC, whatever DuckDB's session time zone.
      [str('2024-01-01T10:00:00'), '2024-01-01 10:00:00+00', 'js'],
    ],
  ],
  [
    'microsecond times of day (a MySQL TIME past a day is no time of day)',
    { type: 'int64', name: 'io.debezium.time.MicroTime' },
    [
      ['0', '00:00:00', 'js'],
      ['86399999999', '23:59:59.999999', 'js'],
      ['86400000000', '24:00:00', 'js'],
      ['3020399000000', dead(/time of day/)], // 838:59:59
      ['-3020399000000', dead(/time of day/)],
      ['-1', dead(/time of day/)],
    ],
  ],
  ['millisecond times of day', { type: 'int32', name: 'io.debezium.time.Time' }, [['86399999', '23:59:59.999', 'js'], ['90000000', dead(/time of day/)], ['-1', dead(/time of day/)]]],
  [
    'times of day with an offset',
    { type: 'string', name: 'io.debezium.time.ZonedTime' },
    [
      [str('10:15:30Z'), '10:15:30+00', 'js'],
      // Parquet keeps a TIMETZ as UTC: the same time, its offset normalized (as TIMESTAMPTZ's is).
      [str('23:59:59.999999-05:30'), '05:29:59.999999+00', 'js'],
      [str('10:15:30.1234567+01:00'), dead(/whole microseconds/)],
      [str('24:00:00Z'), dead(/time with offset/)],
    ],
  ],
  ['Connect times of day', { type: 'int32', name: 'org.apache.kafka.connect.data.Time' }, [['0', '00:00:00', 'js']]],
  [
    'nanosecond times of day (TIME holds microseconds)',
    { type: 'int64', name: 'io.debezium.time.NanoTime' },
    [
      ['86399999999000', '23:59:59.999999', 'js'],
      ['86399999999999', dead(/whole microseconds/)],
      ['1500', dead(/whole microseconds/)],
      ['3020399000000000', dead(/time of day/)],
    ],
  ],
  [
    'decimals DECIMAL(10,2), as bytes and as numbers (decimal.format=NUMERIC)',
    { type: 'bytes', name: 'org.apache.kafka.connect.data.Decimal', parameters: { scale: '2', 'connect.decimal.precision': '10' } },
    [
      [str(decimalBytes(-12345n)), '-123.45'],
      [str(decimalBytes(-1n)), '-0.01'],
      [str(decimalBytes(99_999_999_99n)), '99999999.99'],
      [str(decimalBytes(10_000_000_000n)), dead(/DECIMAL\(10,2\)/)],
      [str('1234'), '-26588.24'], // base64 bytes d7 6d f8
      // A number whose digits are valid base64 too: not read as bytes.
      ['1234', '1234.00', 'js'],
      ['-12.5', '-12.50', 'js'],
      ['1.5E-1', '0.15', 'js'],
      ['12.345', dead(/DECIMAL\(10,2\)/)],
      [str('A!ZU='), dead(/valid base64/)],
      [str(''), dead(/valid base64|at least one byte/)],
    ],
  ],
  ['decimals of scale 0', { type: 'bytes', name: 'org.apache.kafka.connect.data.Decimal', parameters: { scale: '0', 'connect.decimal.precision': '5' } }, [[str(decimalBytes(-99_999n)), '-99999']]],
  [
    'decimals of precision past 18 (JavaScript typing)',
    { type: 'bytes', name: 'org.apache.kafka.connect.data.Decimal', parameters: { scale: '30', 'connect.decimal.precision': '38' } },
    [
      [str(decimalBytes(-(10n ** 38n - 1n))), '-99999999.999999999999999999999999999999', 'js'],
      ['12345678.123456789012345678901234567891', '12345678.123456789012345678901234567891', 'js'],
    ],
  ],
  [
    'variable-scale decimals',
    { type: 'struct', name: 'io.debezium.data.VariableScaleDecimal' },
    [
      [`{"scale":3,"value":${str(decimalBytes(-1500n))}}`, '-1.500', 'js'],
      [`{"scale":0,"value":${str(decimalBytes(10n ** 40n))}}`, `1${'0'.repeat(40)}`, 'js'],
      [`{"scale":2,"value":"A!ZU="}`, dead(/valid base64/)],
    ],
  ],
  [
    'doubles (Jackson quotes NaN and the infinities)',
    { type: 'float64' },
    [
      [str('NaN'), 'nan'],
      [str('Infinity'), 'inf'],
      [str('-Infinity'), '-inf'],
      ['-0.0', '-0.0'],
      ['1e308', '1e+308'],
      ['1.7976931348623157E308', '1.7976931348623157e+308'],
      ['4.9E-324', '5e-324'],
      ['0.1', '0.1'],
      ['9007199254740993', '9007199254740992.0'], // a double's nearest, as DuckDB reads the digits
      [str('zero'), dead(/a number/)],
      ['true', dead(/a number/)],
      [str('12'), dead(/a number/)],
      ['1e400', dead(/finite number/)], // not infinity, nor the null JSON.stringify would make of it
      ['-1e-400', '-0.0'], // underflow rounds, as any decimal text into a double does
    ],
  ],
  [
    'floats',
    { type: 'float32' },
    [
      ['3.4028235E38', '3.4028235e+38'],
      ['-3.4028235E38', '-3.4028235e+38'],
      ['-0.0', '-0.0'],
      ['1.4E-45', '1e-45'],
      [str('NaN'), 'nan'],
      ['1e39', dead(/float32/)],
      [str('Infinity'), 'inf'],
    ],
  ],
  [
    'int64 (past 2^53: exact)',
    { type: 'int64' },
    [
      ['9007199254740993', '9007199254740993'],
      ['-9007199254740993', '-9007199254740993'],
      ['9223372036854775807', '9223372036854775807'],
      ['-9223372036854775808', '-9223372036854775808'],
      ['9223372036854775808', dead(/int64/)],
      ['1.5', dead(/integer/), 'js-only'],
      ['2.5', dead(/integer/), 'js-only'],
      ['true', dead(/integer/), 'js-only'],
      ['1E2', '100'],
      [str('-42'), '-42'], // digits in a string: the JavaScript way always took them
      [str(' 42'), dead(/integer/), 'js-only'],
    ],
  ],
  ['int8', { type: 'int8' }, [['127', '127'], ['-128', '-128'], ['128', dead(/int8/)], ['-129', dead(/int8/)]]],
  ['int16', { type: 'int16' }, [['32767', '32767'], ['32768', dead(/int16/)], ['-32769', dead(/int16/)]]],
  ['int32', { type: 'int32' }, [['-2147483648', '-2147483648'], ['2147483648', dead(/int32/)]]],
  ['years', { type: 'int32', name: 'io.debezium.time.Year' }, [['2024', '2024'], ['2024.5', dead(/integer/), 'js-only']]],
  ['booleans', { type: 'boolean' }, [['true', 'true'], ['false', 'false'], ['1.5', dead(/a boolean/)], ['0', dead(/a boolean/)], [str('true'), dead(/a boolean/)]]],
  [
    'bytes',
    { type: 'bytes' },
    [
      [str('AAEC'), '\\x00\\x01\\x02'],
      [str('1234'), '\\xD7m\\xF8'],
      ['1234', dead(/base64 bytes/)],
      [str('AZ=U'), dead(/valid base64/)],
    ],
  ],
  [
    'strings',
    { type: 'string' },
    [
      ['"a\\u0000b"', 'a\u0000b'],
      ['"😀"', '😀'],
      ['"\\ud83d\\ude00"', '😀'],
      ['"ünï — ✓"', 'ünï — ✓'],
      // A lone surrogate has no UTF-8 form: DuckDB refuses it (and the whole batch with it).
      ['"\\ud800"', dead(/whole Unicode characters/)],
      ['"x\\udfffy"', dead(/whole Unicode characters/)],
    ],
  ],
  [
    'JSON text (lands as written)',
    { type: 'string', name: 'io.debezium.data.Json', version: 1 },
    [
      [str('{"a": 1.0, "b": 12345678901234567890}'), '{"a": 1.0, "b": 12345678901234567890}'],
      [str('[1, "\\ud83d\\ude00"]'), '[1, "\\ud83d\\ude00"]'],
      [str('{"note": "information about infinite nanometres"}'), '{"note": "information about infinite nanometres"}'],
      [str('-Infinity'), dead(/valid JSON/)],
      [str('[1, inf]'), dead(/valid JSON/)],
      [str('{bad'), dead(/valid JSON/)],
      [str('[1,]'), dead(/valid JSON/)],
      [str('{"a":1,}'), dead(/valid JSON/)],
      [str('NaN'), dead(/valid JSON/)],
      [str('"\\ud800"'), dead(/whole Unicode characters/)],
    ],
  ],
  [
    'UUIDs',
    { type: 'string', name: 'io.debezium.data.Uuid', version: 1 },
    [
      [str('0e1b5b4e-8c55-4d47-9a3f-0d1a2b3c4d5e'), '0e1b5b4e-8c55-4d47-9a3f-0d1a2b3c4d5e'],
      [str('0E1B5B4E8C554D479A3F0D1A2B3C4D5E'), '0e1b5b4e-8c55-4d47-9a3f-0d1a2b3c4d5e'],
      [str('{0e1b5b4e-8c55-4d47-9a3f-0d1a2b3c4d5e}'), dead(/a UUID/)],
      [str('not-a-uuid'), dead(/a UUID/)],
    ],
  ],
]

/** `offsets`: the edges that were landed (all unless given); each edge's offset is its index. */
function expectLanded(landed: Landed, edges: Edge[], offsets?: Set<number>): void {
  const included = (i: number): boolean => offsets === undefined || offsets.has(i)
  const expectedValues = edges.filter(([, e], i) => included(i) && typeof e === 'string').map(([, e]) => e)
  expect(landed.values).toEqual(expectedValues)
  const deadOffsets = edges.flatMap(([, e], i) => (included(i) && e instanceof RegExp ? [String(i)] : []))
  expect(Object.keys(landed.letters).sort()).toEqual(deadOffsets.sort())
  edges.forEach(([raw, e], i) => {
    if (!(e instanceof RegExp) || !included(i)) return
    const [field, reason] = landed.letters[String(i)]!
    expect(field, raw).toBe('v')
    expect(reason, raw).toMatch(/^column v: expected /)
    expect(reason, raw).toMatch(e)
  })
}

describe('edge values land exactly, or as dead letters naming the field, both ways alike', () => {
  for (const [kind, schema, edges] of kinds) {
    it(kind, async () => {
      // Each value alone, DuckDB-side first: a value it lands, it lands exactly; one it hands over, the JavaScript way decides.
      for (const [i, [raw, expected, way]] of edges.entries()) {
        const js = await land([envelope(i, schema, raw)], false)
        expect(js.typing === undefined || js.typing === 'js').toBe(true)
        if (way === 'js-only') {
          if (typeof expected === 'string') expect(js.values, raw).toEqual([expected])
          else expect(Object.values(js.letters).map(([, reason]) => reason), raw).toEqual([expect.stringMatching(expected)])
          continue
        }
        const native = await land([envelope(i, schema, raw)], true)
        expect({ values: native.values, letters: native.letters }, raw).toEqual({ values: js.values, letters: js.letters })
        if (typeof expected === 'string') {
          expect(native.values, raw).toEqual([expected])
          expect(native.typing, raw).toBe(way ?? 'duckdb')
        } else {
          expect(native.values, raw).toEqual([])
        }
      }
      // All in one batch: the bad ones go to the dead letters, the rest lands the same either way.
      const batch = edges.map(([raw], i) => envelope(i, schema, raw))
      const js = await land(batch, false)
      expectLanded(js, edges)
      const nativeEdges = edges.map((edge, i) => [edge, i] as const).filter(([[, , way]]) => way !== 'js-only')
      const native = await land(nativeEdges.map(([[raw], i]) => envelope(i, schema, raw)), true)
      expectLanded(native, edges, new Set(nativeEdges.map(([, i]) => i)))
    }, 60_000)
  }

  it('sends a lone surrogate in a row without a schema, or in an integration event, to the dead letters', async () => {
    db ??= await openDatabase(':memory:', { errorCode: 'INGEST_FAILED' })
    const change = (offset: number, text: string): ChangeRecord => ({ topic: topic.topic, partition: 0, offset: String(offset), key: null, value: Buffer.from(text), headers: {}, timestamp: '1704067200000' })
    const lone = withoutSchema({ op: 'c', after: { id: 2, note: placeholder } }).replace(`"${placeholder}"`, '"a\\udc00"')
    const nested = withoutSchema({ op: 'c', after: { id: 3, doc: { [placeholder]: 1 } } }).replace(`"${placeholder}"`, '"\\ud800"')
    const changes = await land([change(0, withoutSchema({ op: 'c', after: { id: 1, note: 'ok' } })), change(1, lone), change(2, nested)], false, 'note')
    expect(changes.values).toEqual(['ok'])
    expect(changes.letters).toEqual({ '1': ['note', expect.stringMatching(/^column note: expected text of whole Unicode characters/)], '2': ['doc', expect.stringMatching(/^column doc: /)] })

    const lake = await tempDir()
    const events: ChangeTopicConfig = { topic: 'shop.events', format: 'integration-event', service: 'shop' }
    const event = (offset: number, payload: string): ChangeRecord => ({ ...change(offset, `{"id":"e${offset}","type":"T","occurredAt":"2024-01-01T00:00:00Z","payload":${payload}}`), topic: events.topic })
    const outcome = await new BatchLander([db], await CommitLog.open(lake), 'run-test', silentLogger).land(events, 0, [event(0, '{"s":"😀"}'), event(1, '{"s":"\\ud83d"}')])
    expect(outcome).toMatchObject({ rows: 1, deadLetters: 1, deadLetterCodes: { INGEST_DECODE_FAILED: 1 } })
  })

  it('lands int64 past 2^53 exactly in rows without a schema, and JSON columns kept whole as before', async () => {
    const text = withoutSchema({ op: 'c', after: { id: 1, big: placeholder, small: 5, doc: { n: 1 } } }).replace(`"${placeholder}"`, '9007199254740993')
    const record: ChangeRecord = { topic: topic.topic, partition: 0, offset: '0', key: null, value: Buffer.from(text), headers: {}, timestamp: '1704067200000' }
    db ??= await openDatabase(':memory:', { errorCode: 'INGEST_FAILED' })
    const lake = await tempDir()
    await new BatchLander([db], await CommitLog.open(lake), 'run-test', silentLogger).land(topic, 0, [record])
    const [file] = await committedFiles(lake)
    const { rows, columns } = await db.queryJson(`SELECT CAST(big AS VARCHAR) AS big, small, doc FROM read_parquet(${quoteLiteral(`${lake}/${file!.path}`)})`)
    expect(rows).toEqual([{ big: '9007199254740993', small: 5, doc: '{"n":1}' }])
    expect(columns.map((c) => c.name)).toEqual(['big', 'small', 'doc'])
  })
})
