import { randomUUID } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { coldpipe } from '../cli/cli-process.ts'
import { postgresSchema } from '../helpers/databases.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { findPlaintext, testKeyText } from './pii-fixtures.ts'

describe('coldpipe erase, pii status, status', () => {
  it('exports masked, erases a person with a receipt on stdout, lists it, shows it in status', { timeout: 180_000 }, async () => {
    const tag = randomUUID().slice(0, 8)
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.people (id int PRIMARY KEY, email text, nick text)`)
    for (const i of [1, 2, 3]) await client.query(`INSERT INTO ${schema}.people VALUES ($1, $2, $3)`, [i, `p${i}-${tag}@example.com`, `nick${i}-${tag}`])
    const dir = await tempDir()
    const config = join(dir, 'coldpipe.yaml')
    await writeFile(config, JSON.stringify({
      lake: './lake',
      warehouse: './warehouse',
      sources: { crm: { kind: 'postgres', url, schema } },
      exports: [{ source: 'crm', tables: [{ name: 'people', mode: 'full', key: ['id'] }] }],
      pii: { keyEnv: 'TEST_PII_KEY', columns: [{ column: 'crm.people.email', action: 'hash' }], subjects: { person: { keys: ['crm.people.id'] } } },
    }))
    const previous = process.env.TEST_PII_KEY
    process.env.TEST_PII_KEY = testKeyText
    onTestFinished(() => {
      if (previous === undefined) delete process.env.TEST_PII_KEY
      else process.env.TEST_PII_KEY = previous
    })
    const run = (...args: string[]) => coldpipe(['-c', config, '--log-level', 'warn', ...args])

    expect((await run('export', 'crm')).code).toBe(0)
    expect((await run('publish')).code).toBe(0)
    const piiStatus = await run('pii', 'status')
    expect(piiStatus.stdout).toContain('crm.people\temail=hash')
    expect(piiStatus.code).toBe(0)

    const unknown = await run('erase', 'customer', '2')
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain('no erasure subject "customer" in pii.subjects (configured: person)')

    const erased = await run('erase', 'person', '--stdin')
    expect(erased.code).toBe(1) // no stdin given: empty identifier refused
    const done = await coldpipe(['-c', config, '--log-level', 'warn', 'erase', 'person', '--stdin'], { input: '2\n' })
    expect(done.stderr).toBe('')
    expect(done.code).toBe(0)
    const receipt = JSON.parse(done.stdout) as { id: string; lake: { rowsRemoved: Record<string, number> }; warehouse: { snapshotsRemoved: number[] } }
    expect(receipt.lake.rowsRemoved).toEqual({ 'crm.people': 1 })
    expect(receipt.warehouse.snapshotsRemoved).toEqual([1])
    expect(await findPlaintext([`p2-${tag}@example.com`, `nick2-${tag}`], [join(dir, 'lake'), join(dir, 'warehouse')])).toEqual([])

    const list = await run('erase', '--list')
    expect(list.stdout).toMatch(new RegExp(`^${receipt.id}\tperson\tdone\t`))
    const status = await run('status')
    expect(status.stdout).toContain('ERASURES')
    expect(status.stdout).toContain('0 pending, 0 failed, 1 done')

    const sql = await run('sql', '-c', 'select id, nick from crm.people order by id', '--format', 'csv')
    expect(sql.stdout.trim().split('\n')).toEqual(['id,nick', `1,nick1-${tag}`, `3,nick3-${tag}`])
    const cleared = await run('erase', '--clear', receipt.id)
    expect(cleared.stdout).toContain(`${receipt.id} cleared`)
  })
})
