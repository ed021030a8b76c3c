import { readFile } from 'node:fs/promises'
import { describe, expect, it, onTestFinished } from 'vitest'
import { startChangeIngest } from '../../ingest/changes/index.ts'
import { PiiKey, setStagingProbe, type StagedFile } from '../../ingest/pii/index.ts'
import { CommitLog } from '../../lake/index.ts'
import { silentLogger } from '../../core/logger.ts'
import { mysqlDatabase, postgresSchema } from '../helpers/databases.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { waitFor } from '../helpers/wait-for.ts'
import { readExported, testExporter } from '../export/export-fixtures.ts'
import { withSchema, type FieldSchema } from '../ingest/fixtures/envelopes.ts'
import { createTopic, produce, testBroker, unique } from '../ingest/fixtures/kafka.ts'
import { findPlaintext, maskLake, testKeyText, type PlaintextHit } from './pii-fixtures.ts'

const contactFields: FieldSchema[] = [
  { type: 'int32', optional: false, field: 'id' },
  { type: 'string', optional: true, field: 'email' },
  { type: 'string', optional: true, field: 'name' },
  { type: 'string', optional: true, field: 'city' },
]

describe('no plaintext of a masked column reaches the lake, scratch files included', () => {
  it('stopped right after each landing wrote its scratch file, the lake (with _tmp/) holds the control values but no masked plaintext', { timeout: 180_000 }, async () => {
    const tag = unique('p').slice(-8)
    const people = [1, 2, 3].map((i) => ({ id: i, email: `staged${i}-${tag}@example.com`, name: `Stage Name ${i} ${tag}`, phone: `+1-555-${tag}-${i}` }))
    const plaintext = people.flatMap((p) => [p.email, p.name, p.phone])
    const controls = { users: `Country-${tag}`, customers: `City-${tag}`, contacts: `Town-${tag}`, events: `Kind-${tag}` }

    const { client, schema, url: pgUrl } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.users (id int PRIMARY KEY, email text, name text, phone text, country text)`)
    for (const p of people) await client.query(`INSERT INTO ${schema}.users VALUES ($1, $2, $3, $4, $5)`, [p.id, p.email, p.name, p.phone, controls.users])
    const { connection, database, url: myUrl } = await mysqlDatabase()
    await connection.query(`CREATE TABLE ${database}.customers (id int PRIMARY KEY, email varchar(200), full_name varchar(200), city varchar(50))`)
    for (const p of people) await connection.query(`INSERT INTO ${database}.customers VALUES (?, ?, ?, ?)`, [p.id, p.email, p.name, controls.customers])

    const lake = await tempDir()
    maskLake(lake, [
      { column: 'idn.users.email', action: 'hash' },
      { column: 'idn.users.name', action: 'null' },
      { column: 'idn.users.phone', action: 'drop' },
      { column: 'shop.customers.email', action: 'hash' },
      { column: 'shop.customers.full_name', action: 'drop' },
      { column: 'crm.contacts.email', action: 'hash' },
      { column: 'crm.contacts.name', action: 'drop' },
      { column: 'crm.events.email', action: 'hash' },
      { column: 'crm.events.name', action: 'null' },
    ])

    // The failpoint: every landing stops right after writing its scratch file, while every byte of the lake is read.
    const staged: { file: StagedFile; control: boolean }[] = []
    const hits: PlaintextHit[] = []
    onTestFinished(
      setStagingProbe(async (file) => {
        const bytes = await readFile(file.path)
        staged.push({ file, control: Object.values(controls).some((c) => bytes.includes(Buffer.from(c))) })
        hits.push(...(await findPlaintext(plaintext, [lake])))
      }),
    )

    const exporter = testExporter({ sources: { idn: { kind: 'postgres', url: pgUrl, schema }, shop: { kind: 'mysql', url: myUrl } }, lakeRoot: lake, logger: silentLogger })
    const [users] = await exporter.runExport({ source: 'idn', timezone: 'UTC', tables: [{ name: 'users', mode: 'full', key: ['id'] }] } as never, { runId: `r-${tag}-1` })
    expect(users?.error).toBeUndefined()
    const [customers] = await exporter.runExport({ source: 'shop', timezone: 'UTC', tables: [{ name: 'customers', mode: 'full', key: ['id'] }] } as never, { runId: `r-${tag}-2` })
    expect(customers?.error).toBeUndefined()

    const broker = await testBroker()
    const contacts = unique('crm.public.contacts')
    const notes = unique('crm.public.notes')
    const events = unique('crm.events')
    for (const t of [contacts, notes, events]) await createTopic(broker, t, 1)
    // Schema'd envelopes of one schema: an unmasked table lands them the DuckDB way, raw payloads staged as they are.
    await produce(broker, contacts, people.map((p) => ({ key: JSON.stringify({ id: p.id, email: p.email }), value: withSchema(contactFields, { op: 'c', after: { id: p.id, email: p.email, name: p.name, city: controls.contacts } }) })))
    await produce(broker, notes, people.map((p) => ({ key: JSON.stringify({ id: p.id }), value: withSchema(contactFields, { op: 'c', after: { id: p.id, email: `note-${tag}`, name: null, city: null } }) })))
    await produce(broker, events, people.map((p) => ({ value: JSON.stringify({ id: `e${p.id}`, type: 'ContactCreated', occurredAt: '2026-01-01T00:00:00Z', payload: { email: p.email, name: p.name, kind: controls.events } }) })))
    const ingest = await startChangeIngest({
      config: {
        brokers: [broker.bootstrap],
        groupId: unique('g'),
        topics: [
          { topic: contacts, format: 'debezium', service: 'crm', table: 'contacts', key: ['id'] },
          { topic: notes, format: 'debezium', service: 'crm', table: 'notes', key: ['id'] },
          { topic: events, format: 'integration-event', service: 'crm' },
        ],
        flushMaxRows: 100,
        flushMaxAgeMs: 100,
      },
      lakeRoot: lake,
      logger: silentLogger,
    })
    onTestFinished(() => ingest.stop())
    await waitFor(() => ingest.stats().rowsLanded === 9, { timeoutMs: 60_000 })
    await ingest.stop()

    const kinds = (table: string): string[] => staged.filter((s) => s.file.table === table).map((s) => s.file.kind)
    expect(kinds('users')).toContain('export-csv')
    expect(kinds('customers')).toContain('export-csv')
    expect(kinds('contacts')).toContain('changes-ndjson')
    expect(kinds('events')).toContain('changes-ndjson')
    // The probe did catch each scratch file with its data: the unmasked control value is in every one of them.
    expect(staged.filter((s) => s.file.table !== 'notes' && !s.control)).toEqual([])
    expect(hits).toEqual([])
    expect(await findPlaintext(plaintext, [lake])).toEqual([])

    // The unmasked table kept its DuckDB-side typing; the masked one was masked in memory, then typed.
    const log = await CommitLog.open(lake)
    const commits = await Promise.all(Array.from({ length: log.latestVersion + 1 }, (_, v) => log.readCommit(v)))
    const typing = (table: string): unknown[] => commits.filter((c) => c?.kind === 'changes' && c.add.some((f) => f.table === table)).map((c) => c!.info?.typing)
    expect(typing('notes')).toEqual(['duckdb'])
    expect(typing('contacts')).toEqual(['js'])

    // Hashed in memory from a change event equals hashed by the source in an export, and the Kafka key is masked too.
    const key = PiiKey.fromText(testKeyText)
    const exported = await readExported(lake, 'idn', 'users', 'id')
    const changed = await readExported(lake, 'crm', 'contacts', 'id')
    expect(changed.rows.map((r) => r.email)).toEqual(exported.rows.map((r) => r.email))
    expect(changed.rows.map((r) => r.email)).toEqual(people.map((p) => key.hmacHex(p.email)))
    expect(changed.rows.map((r) => JSON.parse(r._cp_key as string))).toEqual(people.map((p) => ({ id: p.id, email: key.hmacHex(p.email) })))
    expect(changed.columns.map((c) => c.name)).not.toContain('name')
    const landedEvents = await readExported(lake, 'crm', 'events', '_cp_offset')
    expect(landedEvents.rows.map((r) => JSON.parse(r.payload as string))).toEqual(people.map((p) => ({ email: key.hmacHex(p.email), kind: controls.events })))
  })
})
