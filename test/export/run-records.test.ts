import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { postgresSchema } from '../helpers/databases.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { testExporter } from './export-fixtures.ts'
import { fullTable } from './fault-fixtures.ts'

describe('export run records', () => {
  it('keep only the newest keepRunRecords runs per source, leaving other sources alone', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.t (id int)`)
    await client.query(`INSERT INTO ${schema}.t VALUES (1)`)
    const lake = await tempDir()
    const exporter = testExporter({ sources: { a: { kind: 'postgres', url, schema, keepRunRecords: 2 }, b: { kind: 'postgres', url, schema, keepRunRecords: 2 } }, lakeRoot: lake })
    const config = (source: string) => ({ source, timezone: 'UTC', tables: [fullTable('t')] })
    await exporter.runExport(config('b'), { runId: 'r0' })
    for (const runId of ['r1', 'r2', 'r3', 'r4']) await exporter.runExport(config('a'), { runId })
    const runsDir = join(lake, '_state', 'export-runs')
    const runs = (await readdir(runsDir)).sort()
    expect(runs).toEqual(['r0', 'r3', 'r4'])
    expect(await readdir(join(runsDir, 'r0'))).toEqual(['b.t.json'])
    expect(await readdir(join(runsDir, 'r4'))).toEqual(['a.t.json'])
  })
})
