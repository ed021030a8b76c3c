import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { coldpipe } from '../cli/cli-process.ts'
import { publish, SnapshotStore } from '../../warehouse/index.ts'
import { commitExport } from '../helpers/lake-fixtures.ts'
import { setup } from './warehouse-setup.ts'


/** `coldpipe --config <config> --log-level silent <args>` to its end. */
function cli(config: string, args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return coldpipe(['--config', config, '--log-level', 'silent', ...args], input === undefined ? {} : { input })
}

describe('coldpipe sql / publish', () => {
  it('queries current or chosen snapshots in table, csv and json, refuses writes, and runs a prompt', async () => {
    const { dir, lakeRoot, warehouse } = await setup()
    const config = join(dir, 'coldpipe.yaml')
    await writeFile(config, `lake: ${lakeRoot}\nwarehouse: ${warehouse.path}\nsources: {}\n`)
    await commitExport(lakeRoot, { service: 'catalog', table: 'items', mode: 'full', parts: [`SELECT range::INT AS id, 'a,"b"' AS name FROM range(2)`] })
    expect((await cli(config, ['publish'])).stdout).toContain('published snapshot 1')
    expect((await cli(config, ['publish'])).stdout).toContain('nothing published')
    const first = (await new SnapshotStore(warehouse.path).current())!
    await commitExport(lakeRoot, { service: 'catalog', table: 'items', mode: 'full', parts: [`SELECT range::INT AS id, 'c' AS name FROM range(3)`] })
    await publish({ lakeRoot, warehouse })
    expect(first.id).toBe(1)
    const csv = await cli(config, ['sql', '--snapshot', '1', '-c', 'SELECT * FROM catalog.items ORDER BY id', '--format', 'csv'])
    expect(csv.stdout).toBe('id,name\n0,"a,""b"""\n1,"a,""b"""\n')
    const json = await cli(config, ['sql', '-c', 'SELECT count(*)::INT AS n FROM catalog.items', '--format', 'json'])
    expect(JSON.parse(json.stdout)).toEqual([{ n: 3 }])
    const table = await cli(config, ['sql', '-c', 'SELECT 42 AS answer'])
    expect(table.stdout).toMatch(/answer[\s\S]*42[\s\S]*\(1 row\)/)
    const write = await cli(config, ['sql', '-c', 'DELETE FROM catalog.items__history'])
    expect(write.code).toBe(1)
    expect(write.stderr).toContain('WAREHOUSE_READ_ONLY')
    const prompt = await cli(config, ['sql'], '.tables\nSELECT count(*)::INT AS n\n  FROM catalog.items;\nCREATE TABLE x (i INT);\n.schema catalog.items\n.quit\n')
    expect(prompt.stdout).toContain('items__history')
    expect(prompt.stdout).toMatch(/n[\s\S]*3/)
    expect(prompt.stdout).toContain('WAREHOUSE_READ_ONLY')
    expect(prompt.stdout).toMatch(/name\s*│ VARCHAR/)
  })
})
