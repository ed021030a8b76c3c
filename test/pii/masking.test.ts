import { createHmac, randomUUID } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { openDatabase, quoteLiteral } from '../../core/duckdb/index.ts'
import { startChangeIngest } from '../../ingest/changes/index.ts'
import { canonicalText, PiiKey } from '../../ingest/pii/index.ts'
import { CommitLog } from '../../lake/index.ts'
import { publish, SnapshotStore, warehouseDefaults, type WarehouseConfig } from '../../warehouse/index.ts'
import { mysqlDatabase, postgresSchema } from '../helpers/databases.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { testExporter } from '../export/export-fixtures.ts'
import { withoutSchema, withSchema, type FieldSchema } from '../ingest/fixtures/envelopes.ts'
import { createTopic, produce, testBroker, unique } from '../ingest/fixtures/kafka.ts'
import { fileLogger, findPlaintext, maskLake, testKeyText } from './pii-fixtures.ts'

const contactFields: FieldSchema[] = [
  { type: 'int32', optional: false, field: 'id' },
  { type: 'string', optional: true, field: 'email' },
  { type: 'string', optional: true, field: 'name' },
]

describe('HMAC-SHA256 in DuckDB SQL and in JavaScript', () => {
  it('equals node:crypto createHmac for the same key and text, short and long keys, any UTF-8', async () => {
    const db = await openDatabase(':memory:')
    onTestFinished(() => db.close())
    for (const keyText of [testKeyText, 'k'.repeat(100) + 'ü€']) {
      const key = PiiKey.fromText(keyText)
      await key.loadInto(db)
      const inputs = ['person1@example.com', 'ü€ 😀 \\x00 \'quoted\'', '42', '']
      const values = inputs.map((text, i) => `(${i}, ${quoteLiteral(text)})`).join(', ')
      const rows = await db.all<{ h: string | null }>(`SELECT ${key.sql('v')} AS h FROM (VALUES ${values}) t(i, v) ORDER BY i`)
      const expected = inputs.map((text) => createHmac('sha256', Buffer.from(keyText, 'utf8')).update(text, 'utf8').digest('hex'))
      expect(rows.map((r) => r.h)).toEqual(expected)
      expect(inputs.map((t) => key.hmacHex(t))).toEqual(expected)
      const [nothing] = await db.all<{ h: string | null }>(`SELECT ${key.sql('CAST(NULL AS VARCHAR)')} AS h`)
      expect(nothing?.h).toBeNull()
    }
    // Integers render alike in both paths, so an id hashed by an export equals one hashed from a change event.
    const key = PiiKey.fromText(testKeyText)
    const [row] = await db.all<{ h: string }>(`SELECT ${key.sql('CAST(42::INTEGER AS VARCHAR)')} AS h`)
    expect(row?.h).toBe(key.hmacHex(canonicalText(42)!))
  })

  it('a connection without the key loaded fails the statement instead of writing NULLs', async () => {
    const db = await openDatabase(':memory:')
    onTestFinished(() => db.close())
    const key = PiiKey.fromText(testKeyText)
    await expect(db.all(`SELECT ${key.sql("'x'")} AS h`)).rejects.toThrow(/masking key not loaded/)
  })
})

describe('masking before landing', () => {
  it('exports (Postgres, MariaDB), change events, dead letters, publish and logs hold no plaintext of a masked column', { timeout: 180_000 }, async () => {
    const tag = randomUUID().slice(0, 8)
    const people = [1, 2, 3].map((i) => ({
      id: i,
      email: `person${i}-${tag}@example.com`,
      name: `Name${i} Surname-${tag}`,
      phone: `+49-555-${tag}-${i}`,
      fullName: `Full Name ${i} ${tag}`,
    }))
    const plaintext = people.flatMap((p) => [p.email, p.name, p.phone, p.fullName])

    const { client, schema, url: pgUrl } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.users (id int PRIMARY KEY, email text, name text, phone text, country text)`)
    for (const p of people) await client.query(`INSERT INTO ${schema}.users VALUES ($1, $2, $3, $4, $5)`, [p.id, p.email, p.name, p.phone, `Country-${tag}`])
    const { connection, database, url: myUrl } = await mysqlDatabase()
    await connection.query(`CREATE TABLE ${database}.customers (id int PRIMARY KEY, email varchar(200), full_name varchar(200), city varchar(50))`)
    for (const p of people) await connection.query(`INSERT INTO ${database}.customers VALUES (?, ?, ?, 'Berlin')`, [p.id, p.email, p.fullName])

    const lake = await tempDir()
    const warehouseDir = await tempDir()
    const logFile = join(await tempDir(), 'coldpipe.log')
    const { logger, flush } = fileLogger(logFile)
    maskLake(lake, [
      { column: 'identity.users.email', action: 'hash' },
      { column: 'identity.users.name', action: 'null' },
      { column: 'identity.users.phone', action: 'drop' },
      { column: 'shop.customers.email', action: 'hash' },
      { column: 'shop.customers.full_name', action: 'drop' },
      { column: 'crm.contacts.email', action: 'hash' },
      { column: 'crm.contacts.name', action: 'drop' },
      { column: 'crm.events.email', action: 'hash' },
    ])

    const exporter = testExporter({ sources: { identity: { kind: 'postgres', url: pgUrl, schema }, shop: { kind: 'mysql', url: myUrl } }, lakeRoot: lake, logger })
    const [users] = await exporter.runExport({ source: 'identity', timezone: 'UTC', tables: [{ name: 'users', mode: 'full', key: ['id'] }] } as never, { runId: `r-${tag}-1` })
    expect(users?.status).toBe('committed')
    const [customers] = await exporter.runExport({ source: 'shop', timezone: 'UTC', tables: [{ name: 'customers', mode: 'full', key: ['id'] }] } as never, { runId: `r-${tag}-2` })
    expect(customers?.error).toBeUndefined()
    expect(customers?.status).toBe('committed')

    const broker = await testBroker()
    const contacts = unique('crm.public.contacts')
    const events = unique('crm.events')
    await createTopic(broker, contacts, 1)
    await createTopic(broker, events, 1)
    await produce(broker, contacts, [
      ...people.map((p) => ({ key: JSON.stringify({ id: p.id }), value: withSchema(contactFields, { op: 'c', after: { id: p.id, email: p.email, name: p.name } }) })),
      // Poison: not JSON, and it quotes a masked value; and an envelope with no after row, whose before image holds one.
      { key: people[0]!.email, value: `not json at all ${people[0]!.email} ${people[0]!.name}` },
      { key: JSON.stringify({ id: 9 }), value: withSchema(contactFields, { op: 'c', after: null, before: { id: 9, email: people[1]!.email, name: people[1]!.name } }) },
      // Schema-less, so it is typed in JavaScript.
      { key: JSON.stringify({ id: 3 }), value: withoutSchema({ op: 'u', after: { id: 3, email: people[2]!.email, name: people[2]!.name } }) },
    ])
    await produce(broker, events, people.map((p) => ({ value: JSON.stringify({ id: `e${p.id}`, type: 'ContactCreated', occurredAt: '2026-01-01T00:00:00Z', payload: { email: p.email, contactId: p.id } }) })))
    const ingest = await startChangeIngest({
      config: {
        brokers: [broker.bootstrap],
        groupId: unique('g'),
        topics: [
          { topic: contacts, format: 'debezium', service: 'crm', table: 'contacts', key: ['id'] },
          { topic: events, format: 'integration-event', service: 'crm' },
        ],
        flushMaxRows: 3,
        flushMaxAgeMs: 100,
      },
      lakeRoot: lake,
      logger,
    })
    onTestFinished(() => ingest.stop())
    await waitFor(() => ingest.stats().rowsLanded === 7 && ingest.stats().deadLetters === 2, { timeoutMs: 60_000 })
    await ingest.stop()

    const warehouse: WarehouseConfig = { ...warehouseDefaults, path: warehouseDir, pii: [], softDeletes: false }
    const published = await publish({ lakeRoot: lake, warehouse, logger })
    expect(published.published).toBe(true)
    await flush()

    // Not one byte of any file under the lake or the warehouse, nor of the log, holds a plaintext value.
    expect(await findPlaintext(plaintext, [lake, warehouseDir], [logFile])).toEqual([])
    // The scan does see what is there: an unmasked column's value shows up, in Parquet files only once decoded.
    const control = await findPlaintext([`Country-${tag}`], [lake, warehouseDir])
    expect(control.filter((h) => h.via === 'duckdb' && h.file.endsWith('.parquet')).length).toBeGreaterThan(0)
    expect((await readFile(logFile, 'utf8')).length).toBeGreaterThan(0)

    // Equal emails hash equally across services and paths: exports of two databases and change events.
    const hmac = (text: string): string => createHmac('sha256', Buffer.from(testKeyText)).update(text).digest('hex')
    const store = new SnapshotStore(warehouseDir)
    const { db } = await store.openReadOnly()
    onTestFinished(() => db.close())
    const joined = await db.all<{ id: number; email: string; name: string | null }>(
      `SELECT u.id, u.email, u.name FROM identity.users u JOIN shop.customers c USING (email) JOIN crm.contacts k USING (email) ORDER BY u.id`,
    )
    expect(joined.map((r) => [Number(r.id), r.email, r.name])).toEqual(people.map((p) => [p.id, hmac(p.email), null]))
    const userColumns = (await db.all<{ column_name: string }>(`DESCRIBE identity.users`)).map((r) => r.column_name)
    expect(userColumns).not.toContain('phone')
    const customerColumns = (await db.all<{ column_name: string }>(`DESCRIBE shop.customers`)).map((r) => r.column_name)
    expect(customerColumns).not.toContain('full_name')
    const eventEmails = await db.all<{ e: string }>(`SELECT payload->>'email' AS e FROM crm.events ORDER BY event_id`)
    expect(eventEmails.map((r) => r.e)).toEqual(people.map((p) => hmac(p.email)))

    // The lake's file metadata says what the files hold.
    const log = await CommitLog.open(lake)
    const userFile = [...log.activeFiles().values()].find((f) => f.table === 'users')!
    expect(userFile.columns).toEqual([{ name: 'id', type: 'INTEGER' }, { name: 'email', type: 'VARCHAR' }, { name: 'name', type: 'VARCHAR' }, { name: 'country', type: 'VARCHAR' }])

    // Dead letters: the JSON one masked like the rows, the non-JSON one withheld, reasons without the values.
    const deadDir = join(lake, '_dead', 'crm', 'contacts')
    const letters: Record<string, unknown>[] = []
    for (const day of await readdir(deadDir)) for (const file of await readdir(join(deadDir, day))) letters.push(...(await readFile(join(deadDir, day, file), 'utf8')).trim().split('\n').map((l) => JSON.parse(l)))
    expect(letters).toHaveLength(2)
    const withheld = letters.find((l) => l.withheld)!
    expect(withheld).toMatchObject({ payload: null, code: 'INGEST_DECODE_FAILED', masked: ['email', 'name'], source: { key: hmac(people[0]!.email) } })
    const masked = letters.find((l) => !l.withheld)!
    const envelope = JSON.parse(masked.payload as string) as { schema: unknown; payload: { before: Record<string, unknown> } }
    expect(envelope.payload.before).toEqual({ id: 9, email: hmac(people[1]!.email) })
    // The Connect schema (types only, fields called `name`) is kept whole, so the letter still replays.
    expect(envelope.schema).toEqual((JSON.parse(withSchema(contactFields, { op: 'c' })) as { schema: unknown }).schema)
  })
})
