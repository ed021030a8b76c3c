import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { ColdpipeError } from '../../core/errors.ts'
import { eraseSubject, MaskingRules, PiiKey, registerMasking, unregisterMasking } from '../../ingest/pii/index.ts'
import { CommitLog } from '../../lake/index.ts'
import { readErasureList } from '../../lake/erasure/index.ts'
import { postgresSchema } from '../helpers/databases.ts'
import { smallDisk } from '../helpers/small-disk.ts'
import { readExported, testExporter } from '../export/export-fixtures.ts'
import { expectLakeUnchanged, testKeyText } from './pii-fixtures.ts'

const payload = `md5(g::text) || md5((g + 1)::text) || md5((g + 2)::text)`

describe('erasure faults', () => {
  it('a full lake disk mid-rewrite commits nothing and leaves no new file; the entry is failed, keeps rows out, and a re-run finishes it', { timeout: 180_000 }, async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.t (id bigint PRIMARY KEY, bucket int, payload text)`)
    await client.query(`INSERT INTO ${schema}.t SELECT g, g % 2, ${payload} FROM generate_series(1, 60000) g`)
    const disk = await smallDisk(40)
    const lake = join(disk.dir, 'lake')
    const rules = new MaskingRules([], PiiKey.fromText(testKeyText), {
      keyEnv: 'X', columns: [], erasureDeadlineDays: 30, erasureWarnDays: 7,
      subjects: { bucket: { keys: ['s.t.bucket'] } },
    })
    registerMasking(lake, rules)
    onTestFinished(() => unregisterMasking(lake))
    const exporter = testExporter({ sources: { s: { kind: 'postgres', url, schema } }, lakeRoot: lake })
    const config = { source: 's', timezone: 'UTC', tables: [{ name: 't', mode: 'full', key: ['id'], chunkRows: 100_000 }] } as never
    expect((await exporter.runExport(config, { runId: 'r1' }))[0]?.status).toBe('committed')
    const log = await CommitLog.open(lake)
    const before = [...log.activeFiles().keys()]
    const version = log.latestVersion

    await disk.fill(300_000)
    const error = await eraseSubject({ lakeRoot: lake, rules, subject: 'bucket', value: '0' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ColdpipeError)
    expect((error as ColdpipeError).code).toBe('LAKE_DISK_FULL')
    await expectLakeUnchanged(lake, log, version, before)
    const [entry] = (await readErasureList(log.layout)).entries
    expect(entry).toMatchObject({ status: 'failed', error: { code: 'LAKE_DISK_FULL' } })

    await disk.free()
    // The re-run finishes the same request (same id and deadline).
    const receipt = await eraseSubject({ lakeRoot: lake, rules, subject: 'bucket', value: '0' })
    expect(receipt).toMatchObject({ id: entry!.id, deadline: entry!.deadline, lake: { rowsRemoved: { 's.t': 30_000 } } })
    let { rows } = await readExported(lake, 's', 't', 'id')
    expect(rows).toHaveLength(30_000)
    expect(rows.every((r) => Number(r.bucket) === 1)).toBe(true)
    // And a new full export of the source, which still has them, leaves them out.
    expect((await exporter.runExport(config, { runId: 'r2' }))[0]).toMatchObject({ status: 'committed', rows: 60_000 })
    ;({ rows } = await readExported(lake, 's', 't', 'id'))
    expect(rows).toHaveLength(30_000)
    expect(rows.every((r) => Number(r.bucket) === 1)).toBe(true)
    expect((await readErasureList(log.layout)).entries).toMatchObject([{ id: entry!.id, status: 'done' }])
  })
})
