import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Command } from 'commander'
import { describe, expect, it } from 'vitest'
import { registerIngestCommand } from '../../cli/commands/ingest-command.ts'
import { createCommandContext } from '../../cli/command-context.ts'
import { isColdpipeError } from '../../core/errors.ts'
import { tempDir } from '../helpers/temp-dir.ts'

describe('coldpipe ingest command', () => {
  it('registers `ingest` and refuses a config without changes, naming the field', async () => {
    const dir = await tempDir()
    const config = join(dir, 'coldpipe.yaml')
    await writeFile(config, `lake: ./lake\nwarehouse: ./warehouse\n`)
    const program = new Command().option('-c, --config <file>').exitOverride()
    const closers: (() => unknown)[] = []
    registerIngestCommand(program, createCommandContext(program, (close) => closers.push(close)))
    expect(program.commands.map((c) => c.name())).toContain('ingest')
    const error = await program.parseAsync(['node', 'coldpipe', '--config', config, 'ingest']).catch((e: unknown) => e)
    expect(isColdpipeError(error, 'CONFIG_INVALID')).toBe(true)
    expect((error as Error).message).toMatch(/changes/)
    expect(closers).toHaveLength(0)
  })
})
