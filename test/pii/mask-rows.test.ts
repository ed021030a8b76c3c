import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { openDatabase, quoteLiteral } from '../../core/duckdb/index.ts'
import { selectFromNdjson, writeLines } from '../../ingest/changes/ndjson-file.ts'
import { PiiKey, TableLanding, type MaskAction, type StagedColumn } from '../../ingest/pii/index.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { testKeyText } from './pii-fixtures.ts'

const key = PiiKey.fromText(testKeyText)

/** Columns as the change typing makes them, wire types and expressions included. */
const columns: StagedColumn[] = [
  { name: 'id', type: 'INTEGER' },
  { name: 'big', type: 'BIGINT' },
  { name: 'email', type: 'VARCHAR' },
  { name: 'u', type: 'UUID' },
  { name: 'flag', type: 'BOOLEAN' },
  { name: 'amount', type: 'DECIMAL(12,2)' },
  { name: 'score', type: 'DOUBLE' },
  { name: 'at', type: 'TIMESTAMPTZ' },
  { name: 'blob', type: 'BLOB', wireType: 'VARCHAR', wireExpr: 'from_base64($)' },
  { name: 'span', type: 'INTERVAL', wireType: 'BIGINT', wireExpr: 'to_microseconds($)' },
  { name: 'gone', type: 'VARCHAR' },
  { name: 'blank', type: 'DATE' },
  { name: 'keep', type: 'VARCHAR' },
  { name: 'payload', type: 'JSON' },
  { name: '_cp_key', type: 'VARCHAR' },
]

const rows: Record<string, unknown>[] = [
  {
    id: 1, big: '9007199254740993', email: 'Jürgen.Müller@exämple.de', u: 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', flag: true, amount: '10.50', score: 1.5,
    at: '2026-01-02T03:04:05.123456Z', blob: 'AAEC/w==', span: 90_000_000, gone: 'secret', blank: '2000-01-01', keep: 'kept',
    payload: { contact_email: 'x@example.com', contact_name: 'Payload Name', nested: { other: 'kept' }, n: 12345 }, _cp_key: '{"id":1,"email":"Jürgen.Müller@exämple.de"}',
  },
  {
    id: 2, big: null, email: '', u: null, flag: false, amount: null, score: null, at: null, blob: null, span: null, gone: null, blank: null, keep: null,
    payload: { other: 1 }, _cp_key: '{"schema":{"type":"struct"},"payload":{"id":2,"email":"k@example.com"}}',
  },
  { id: 3, email: null, payload: null, _cp_key: 'plain-key-3' },
  { id: 4, email: 'ü', payload: { contact_email: null }, _cp_key: null },
]

describe('masking change rows in memory before staging', () => {
  it('gives exactly the rows masking the staged file in SQL gave: every type, payload fields, JSON and plain Kafka keys, NULLs', { timeout: 60_000 }, async () => {
    const actions = new Map<string, MaskAction>([
      ['id', 'hash'], ['big', 'hash'], ['email', 'hash'], ['u', 'hash'], ['flag', 'hash'], ['amount', 'hash'], ['score', 'hash'], ['at', 'hash'],
      ['blob', 'hash'], ['span', 'hash'], ['gone', 'drop'], ['blank', 'null'],
      // Not columns of the table: top-level fields of its `payload` JSON.
      ['contact_email', 'hash'], ['contact_name', 'drop'],
    ])
    const db = await openDatabase(':memory:')
    onTestFinished(() => db.close())
    const landing = new TableLanding('crm', 'contacts', actions, key, new Map())
    await landing.prepare([db])
    const dir = await tempDir()

    // Before: the plaintext staged, masked by the SQL that read it.
    const plainFile = join(dir, 'plain.ndjson')
    await writeLines(plainFile, rows.map((r) => JSON.stringify(r)))
    const before = await db.queryJson(`SELECT * FROM (${landing.maskSelect(selectFromNdjson(plainFile, columns), columns)})`)

    // Now: masked in memory, staged masked, read as it is.
    const staged = await landing.maskRows(db, rows, columns)
    const maskedFile = join(dir, 'masked.ndjson')
    const lines = staged.rows.map((r) => JSON.stringify(r))
    await writeLines(maskedFile, lines)
    const after = await db.queryJson(selectFromNdjson(maskedFile, staged.columns))

    expect(after.rows).toEqual(before.rows)
    expect(after.columns ?? null).toEqual(before.columns ?? null)
    expect(staged.columns.map((c) => c.name)).not.toContain('gone')
    for (const secret of ['Jürgen', 'secret', 'x@example.com', 'Payload Name', 'k@example.com', 'plain-key-3', '2000-01-01', '9007199254740993']) {
      expect(lines.join('\n')).not.toContain(secret)
    }
    // The input rows are left as they were (a retry of the batch types them again from the same objects).
    expect(rows[0]!.gone).toBe('secret')
    expect(staged.rows[0]!.email).toBe(key.hmacHex('Jürgen.Müller@exämple.de'))
    expect(JSON.parse(staged.rows[0]!.payload as string)).toEqual({ contact_email: key.hmacHex('x@example.com'), nested: { other: 'kept' }, n: 12345 })
  })

  it('a table without masking stages its rows as they are, at no cost', async () => {
    const db = await openDatabase(':memory:')
    onTestFinished(() => db.close())
    const landing = new TableLanding('crm', 'notes', new Map(), undefined, new Map())
    const staged = await landing.maskRows(db, rows, columns)
    expect(staged.rows).toBe(rows)
    expect(staged.columns).toBe(columns)
  })

  it('masks JSON (Kafka keys, payload fields) exactly as the per-field patches did, with SQL that grows polynomially, not as 3^fields', { timeout: 60_000 }, async () => {
    // The former algorithm, kept here as the reference: one merge patch per field, each wrapping the last.
    const perField = (ref: string, fields: [string, MaskAction][], under: string[][]): string => {
      let expr = ref
      for (const prefix of under) {
        for (const [name, action] of fields) {
          const path = quoteLiteral(`$${[...prefix, name].map((p) => `.${JSON.stringify(p)}`).join('')}`)
          const value = action === 'hash' ? key.sql(`(${expr} ->> ${path})`) : 'NULL'
          let patch = `json_object(${quoteLiteral(name)}, ${value})`
          for (const outer of [...prefix].reverse()) patch = `json_object(${quoteLiteral(outer)}, ${patch})`
          expr = `(CASE WHEN json_exists(${expr}, ${path}) THEN json_merge_patch(${expr}, ${patch}) ELSE ${expr} END)`
        }
      }
      return expr
    }
    const actions = new Map<string, MaskAction>([['email', 'hash'], ['name', 'drop'], ['id', 'hash']])
    const landing = new TableLanding('crm', 'contacts', actions, key, new Map())
    const db = await openDatabase(':memory:')
    onTestFinished(() => db.close())
    await landing.prepare([db])
    const keys = [
      '{"id": 1,  "other": "spaces kept"}', '{"other":1}', '{"email":"a@example.com","name":"N","id":7,"z":[1,2]}',
      '{"schema":{"type":"struct"},"payload":{"id":2,"email":"k@example.com","name":"K"}}', '{"payload":"not an object","email":null}',
      '[1,2]', '"just a string"', 'plain-key', '{"email":{"nested":true},"id":12345678901234567890}',
    ]
    const list = `[${keys.map(quoteLiteral).join(', ')}]`
    const now = landing.maskSelect(`SELECT unnest(${list}) AS _cp_key, generate_subscripts(${list}, 1) AS i`, [{ name: '_cp_key', type: 'VARCHAR' }, { name: 'i', type: 'BIGINT' }])
    const json = 'CAST(_cp_key AS JSON)'
    const old = `(CASE WHEN _cp_key IS NULL THEN NULL WHEN json_valid(_cp_key) AND json_type(${json}) = 'OBJECT' THEN CAST(${perField(json, [...actions], [[], ['payload']])} AS VARCHAR) ELSE ${key.sql('_cp_key')} END)`
    const a = await db.all<{ k: string }>(`SELECT _cp_key AS k FROM (${now}) ORDER BY i`)
    const b = await db.all<{ k: string }>(`SELECT ${old} AS k FROM (SELECT unnest(${list}) AS _cp_key, generate_subscripts(${list}, 1) AS i) ORDER BY i`)
    expect(a).toEqual(b)
    // A merge patch puts a replaced member last, as it always did.
    expect(a[0]!.k).toBe(JSON.stringify({ other: 'spaces kept', id: key.hmacHex('1') }))
    expect(a[1]!.k).toBe('{"other":1}')

    // Twelve masked fields: the former SQL would be 3^24 times the size of a value's expression.
    const many = new Map<string, MaskAction>(Array.from({ length: 12 }, (_, i) => [`f${i}`, i % 2 === 0 ? 'hash' : 'drop'] as [string, MaskAction]))
    const wide = new TableLanding('crm', 'wide', many, key, new Map())
    await wide.prepare([db])
    const sql = wide.maskSelect(`SELECT '{"f0":"x","f1":"y","g":1}' AS _cp_key`, [{ name: '_cp_key', type: 'VARCHAR' }])
    expect(sql.length).toBeLessThan(2_000_000)
    const [row] = await db.all<{ _cp_key: string }>(sql)
    expect(JSON.parse(row!._cp_key)).toEqual({ f0: key.hmacHex('x'), g: 1 })
  })
})
