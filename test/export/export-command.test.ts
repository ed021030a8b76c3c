import { Command } from 'commander'
import { describe, expect, it } from 'vitest'
import { registerExportCommand } from '../../cli/commands/export-command.ts'
import type { ColdpipeConfig } from '../../cli/config/index.ts'
import { silentLogger } from '../../core/logger.ts'
import { postgresSchema } from '../helpers/databases.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { readExported } from './export-fixtures.ts'

async function runCli(config: unknown, args: string[]): Promise<{ out: string; exitCode: number | undefined }> {
  const program = new Command().exitOverride()
  const closers: (() => unknown)[] = []
  registerExportCommand(program, { logger: silentLogger, config: async () => config as ColdpipeConfig, configPath: () => 'coldpipe.yaml', onShutdown: (c) => void closers.push(c), keepRunning: () => undefined, longRunning: false, logAsServer: () => undefined })
  let out = ''
  const write = process.stdout.write.bind(process.stdout)
  const before = process.exitCode
  process.stdout.write = ((chunk: string) => ((out += chunk), true)) as typeof process.stdout.write
  try {
    await program.parseAsync(['node', 'coldpipe', 'export', ...args])
  } finally {
    process.stdout.write = write
    for (const close of closers.reverse()) await close()
  }
  const exitCode = process.exitCode as number | undefined
  process.exitCode = before
  return { out, exitCode }
}

describe('coldpipe export', () => {
  it('exports the configured tables with columns and where, prints a summary, and fails with exit code 1 on a failed table', async () => {
    const { client, schema, url } = await postgresSchema()
    await client.query(`CREATE TABLE ${schema}.a (id int, secret text, keep boolean)`)
    await client.query(`INSERT INTO ${schema}.a VALUES (1, 's', true), (2, 's', false), (3, 's', true)`)
    const lake = await tempDir()
    const config = {
      lake,
      sources: { shop: { kind: 'postgres', url, schema } },
      exports: [{ source: 'shop', timezone: 'UTC', tables: [{ name: 'a', mode: 'full', lagSeconds: 0, chunkRows: 100, columns: ['id', 'keep'], where: 'keep' }, { name: 'missing', mode: 'full', lagSeconds: 0, chunkRows: 100 }] }],
    }
    const all = await runCli(config, ['shop', '--run-id', 'c1'])
    expect(all.exitCode).toBe(1)
    expect(all.out).toMatch(/shop\.a\s+full\s+committed\s+2/)
    expect(all.out).toMatch(/shop\.missing\s+full\s+failed.*EXPORT_TABLE_NOT_FOUND/)
    expect((await readExported(lake, 'shop', 'a', 'id')).rows).toEqual([{ id: 1, keep: true }, { id: 3, keep: true }])
    const one = await runCli(config, ['shop', '--table', 'a', '--run-id', 'c2', '--json'])
    expect(one.exitCode).toBeUndefined()
    expect(JSON.parse(one.out)).toMatchObject([{ table: 'a', status: 'committed', rows: 2 }])
  })
})
