import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { coldpipe } from './cli-process.ts'
import { publish } from '../../warehouse/index.ts'
import { commitExport } from '../helpers/lake-fixtures.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { setup } from '../warehouse/warehouse-setup.ts'


/** `coldpipe --config <config> --log-level silent <args>` to its end. */
function cli(config: string, args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return coldpipe(['--config', config, '--log-level', 'silent', ...args], input === undefined ? {} : { input })
}

/** A warehouse with one published snapshot (views over table files) and a config naming it. */
async function warehouseConfig(): Promise<string> {
  const { dir, lakeRoot, warehouse } = await setup()
  await commitExport(lakeRoot, { service: 'catalog', table: 'items', mode: 'full', parts: [`SELECT range::INT AS id, 'item ' || range AS name FROM range(3)`] })
  await publish({ lakeRoot, warehouse })
  const config = join(dir, 'coldpipe.yaml')
  await writeFile(config, `lake: ${lakeRoot}\nwarehouse: ${warehouse.path}\nsources: {}\n`)
  return config
}

describe('coldpipe sql sandbox', { timeout: 120_000 }, () => {
  it('refuses COPY to a file (no file is created), read_text and install, each as SQL_FORBIDDEN', async () => {
    const config = await warehouseConfig()
    const outside = await tempDir('coldpipe-cli-out-')
    const target = join(outside, 'leak.csv')
    const copy = await cli(config, ['sql', '-c', `copy (select 1) to '${target}'`])
    expect(copy.code).toBe(1)
    expect(copy.stderr).toMatch(/^coldpipe: SQL_FORBIDDEN: /)
    expect(existsSync(target)).toBe(false)
    const read = await cli(config, ['sql', '-c', `select * from read_text('/etc/hostname')`])
    expect(read.code).toBe(1)
    expect(read.stderr).toMatch(/^coldpipe: SQL_FORBIDDEN: /)
    expect(read.stdout).toBe('')
    const install = await cli(config, ['sql', '-c', 'install httpfs'])
    expect(install.code).toBe(1)
    expect(install.stderr).toMatch(/^coldpipe: SQL_FORBIDDEN: /)
    const escape = await cli(config, ['sql', '-c', `select * from query('select * from read_text(''/etc/hostname'')')`])
    expect(escape.stderr).toMatch(/^coldpipe: SQL_FORBIDDEN: /)
    // The prompt reports the same code and goes on with the next statement.
    const prompt = await cli(config, ['sql'], `set memory_limit = '64GB';\nselect 'still here' as s;\n.quit\n`)
    expect(prompt.stdout).toMatch(/error: SQL_FORBIDDEN: [\s\S]*still here/)
  })

  it('--allow-local-files reads a local CSV and writes a local file; extensions stay refused', async () => {
    const config = await warehouseConfig()
    const dir = await tempDir('coldpipe-cli-local-')
    const csv = join(dir, 'prices.csv')
    await writeFile(csv, 'id,price\n0,1.5\n1,2.5\n2,4\n')
    const joined = await cli(config, [
      'sql',
      '--allow-local-files',
      '--format',
      'csv',
      '-c',
      `select i.name, p.price from catalog.items i join read_csv('${csv}') p using (id) order by i.id`,
    ])
    expect(joined.stderr).toBe('')
    expect(joined.stdout).toBe('name,price\nitem 0,1.5\nitem 1,2.5\nitem 2,4\n')
    const out = join(dir, 'items.csv')
    expect((await cli(config, ['sql', '--allow-local-files', '-c', `copy catalog.items to '${out}'`])).code).toBe(0)
    expect(existsSync(out)).toBe(true)
    const install = await cli(config, ['sql', '--allow-local-files', '-c', 'install httpfs'])
    expect(install.stderr).toMatch(/^coldpipe: SQL_FORBIDDEN: /)
    const load = await cli(config, ['sql', '--allow-local-files', '-c', 'load httpfs'])
    expect(load.stderr).toMatch(/^coldpipe: SQL_FORBIDDEN: /)
  })

  it('runs several statements in order, printing each result; an error stops the rest and names the statement', async () => {
    const config = await warehouseConfig()
    const all = await cli(config, ['sql', '--format', 'csv', '-c', `select 1 as a; select 'two;' as b; select count(*)::INT as n from catalog.items`])
    expect(all.code).toBe(0)
    expect(all.stdout).toBe('a\n1\nb\ntwo;\nn\n3\n')
    const stopped = await cli(config, ['sql', '--format', 'csv', '-c', `select 1 as a; select * from no_such_table; select 3 as c`])
    expect(stopped.code).toBe(1)
    expect(stopped.stdout).toBe('a\n1\n')
    expect(stopped.stderr).toMatch(/^coldpipe: SQL_INVALID: statement 2 of 3 failed \(1 not run\): .*no_such_table/)
    const refusedSecond = await cli(config, ['sql', '--format', 'csv', '-c', `select 1 as a; copy (select 2) to '/tmp/coldpipe-never.csv'`])
    expect(refusedSecond.stdout).toBe('a\n1\n')
    expect(refusedSecond.stderr).toMatch(/^coldpipe: SQL_FORBIDDEN: statement 2 of 2 failed/)
    // In the prompt, a line holding two statements prints both results.
    const prompt = await cli(config, ['sql', '--format', 'csv'], `select 10 as x; select 20 as y;\n.quit\n`)
    expect(prompt.stdout).toMatch(/x\n10\ny\n20\n/)
  })
})
