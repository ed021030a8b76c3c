import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { layoutColumns, renderTable } from '../../cli/sql-prompt/render-table.ts'
import { coldpipe } from './cli-process.ts'
import { snapshotConfig } from './sql-prompt-pty.ts'

const bin = fileURLToPath(new URL('../../bin/coldpipe.mjs', import.meta.url))

/** `coldpipe sql` with `input` piped to its stdin (no terminal: no prompt features, no row cap). */
function piped(config: string, input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [bin, '--config', config, '--log-level', 'silent', 'sql'], { stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  child.stdin.end(input)
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })))
}

const sql = (config: string, ...args: string[]) => coldpipe(['--config', config, '--log-level', 'silent', 'sql', ...args])

describe('coldpipe sql dot commands and output modes', { timeout: 180_000 }, () => {
  it('takes dot commands in -c: .tables, .schema, .help, .mode csv|json|line, .timer, .maxrows; unknown ones fail coded', async () => {
    const { config } = await snapshotConfig()
    const tables = await sql(config, '-c', '.tables')
    expect(tables.code).toBe(0)
    expect(tables.stdout).toMatch(/│ ordering\s+│ orders\s+│ BASE TABLE │/)
    expect(tables.stdout).not.toContain('_cp_state')

    const schema = await sql(config, '-c', '.schema catalog.catalog_brands')
    expect(schema.stdout).toMatch(/│ id\s+│ INTEGER │[\s\S]*│ brand\s+│ VARCHAR │[\s\S]*\(2 rows\)/)
    const everySchema = await sql(config, '-c', '.schema')
    expect(everySchema.stdout).toMatch(/ordering\.orders\s+│ big_number/)

    const help = await sql(config, '-c', '.help')
    for (const command of ['.tables', '.schema', '.mode', '.maxrows', '.timer', '.pager', '.quit']) expect(help.stdout).toContain(command)

    const csv = await sql(config, '-c', `.mode csv\nselect id, status, null as nothing, 'a,"b"' as quoted from ordering.orders order by id limit 2`)
    expect(csv.stdout).toBe('id,status,nothing,quoted\n0,submitted,,"a,""b"""\n1,paid,,"a,""b"""\n')

    const json = await sql(config, '-c', '.mode json\nselect id, unit_price, null as nothing from ordering.orders order by id')
    const rows = JSON.parse(json.stdout) as Array<Record<string, unknown>>
    expect(rows).toHaveLength(300)
    expect(rows[1]).toEqual({ id: '1', unit_price: '6.25', nothing: null })
    expect(JSON.parse((await sql(config, '--format', 'json', '-c', 'select 1 as x where false')).stdout)).toEqual([])

    const line = await sql(config, '-c', '.mode line\nselect id, status from ordering.orders order by id limit 2')
    expect(line.stdout).toBe('    id = 0\nstatus = submitted\n\n    id = 1\nstatus = paid\n')

    const timed = await sql(config, '-c', '.timer on\nselect 1 as one;\nselect 2 as two;')
    expect(timed.stdout.match(/Run Time: \d+\.\d{3} s\n/g)).toHaveLength(2)

    const unknown = await sql(config, '-c', '.frobnicate')
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toMatch(/^coldpipe: REQUEST_INVALID: unknown command \.frobnicate/)
    const badMode = await sql(config, '-c', '.mode xml')
    expect(badMode.stderr).toMatch(/^coldpipe: REQUEST_INVALID: \.mode takes table, csv, json, line/)
  })

  it('prints every row on a pipe in every mode unless --max-rows or .maxrows caps table and line mode', async () => {
    const { config } = await snapshotConfig(5000)
    const all = await sql(config, '-c', 'select id from ordering.orders order by id')
    expect(all.stdout.split('\n').filter((line) => /^│ +\d+ │$/.test(line))).toHaveLength(5000)
    expect(all.stdout).toMatch(/\(5000 rows\)\n$/)

    const capped = await sql(config, '--max-rows', '3', '-c', 'select id, status from ordering.orders order by id')
    expect(capped.stdout).toBe(
      [
        '┌────┬───────────┐',
        '│ id │ status    │',
        '├────┼───────────┤',
        '│  0 │ submitted │',
        '│  1 │ paid      │',
        '│  2 │ shipped   │',
        '└────┴───────────┘',
        '(5000 rows, 3 shown: 4997 more rows; .maxrows N shows more)',
        '',
      ].join('\n'),
    )
    const cappedLine = await sql(config, '-c', '.maxrows 1\n.mode line\nselect id from ordering.orders order by id')
    expect(cappedLine.stdout).toBe('id = 0\n\n(4999 more rows, 5000 in all; .maxrows N shows more)\n')
    // csv ignores the cap: it is data for another program.
    const csv = await sql(config, '--max-rows', '3', '--format', 'csv', '-c', 'select id from ordering.orders')
    expect(csv.stdout.trim().split('\n')).toHaveLength(5001)
  })

  it('stops at once, exit 141 as SIGPIPE, when the reader of its output goes away (`coldpipe sql -c … | head`)', async () => {
    const { config } = await snapshotConfig(10)
    const child = spawn(process.execPath, [bin, '--config', config, '--log-level', 'debug', 'sql', '-c', 'select * from range(3000000)'], { stdio: ['ignore', 'pipe', 'pipe'] })
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    // Read the first bytes, then close both ends as `2>&1 | head -1` would: every later write fails with EPIPE.
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()))
    child.stdout.destroy()
    child.stderr.destroy()
    // Before, each failed write raised an error whose report failed too: the process spun, deaf to SIGTERM.
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000)
    expect(await exited).toBe(141)
    clearTimeout(timer)
  })

  it('lays out a million rows (no spread of every cell into Math.max)', () => {
    const rows = Array.from({ length: 1_000_000 }, (_, i) => [i])
    const { text } = renderTable({ columns: [{ name: 'n', type: 'BIGINT' }], rows, width: 80 })
    expect(text.split('\n')[0]).toBe('┌────────┐')
    expect(text).toContain('│ 999999 │')
  })

  it('reads statements and dot commands from a pipe: errors are printed and the session goes on', async () => {
    const { config } = await snapshotConfig()
    const out = await piped(config, '.mode csv\nselect count(*) as n\n  from ordering.orders;\nselect * from nowhere;\n.frobnicate\nselect 2 as two;\nselect 3 as three')
    expect(out.code).toBe(0)
    expect(out.stdout).toContain('n\n300\n')
    expect(out.stdout).toMatch(/error: SQL_INVALID: .*nowhere/)
    expect(out.stdout).toMatch(/error: REQUEST_INVALID: unknown command \.frobnicate/)
    expect(out.stdout).toContain('two\n2\n')
    // The last statement had no `;`: the end of the input runs it.
    expect(out.stdout).toContain('three\n3\n')
  })
})

describe('table layout', () => {
  it('shrinks the widest columns first, then drops columns from the right', () => {
    expect(layoutColumns([10, 30], 100)).toEqual({ widths: [10, 30], shown: 2 })
    // 1 + (10 + 3) + (30 + 3) = 47 wide; 40 takes 7 off the widest.
    expect(layoutColumns([10, 30], 40)).toEqual({ widths: [10, 23], shown: 2 })
    // Five columns squeezed to 6 would need 46; three fit 30 (1 + 3 × 9 = 28), the last 2 characters go to the widest.
    expect(layoutColumns([20, 20, 20, 20, 20], 30)).toEqual({ widths: [6, 7, 7], shown: 3 })
  })

  it('right-aligns numbers, spells NULL, escapes newlines and cuts cells with …', () => {
    const columns = [
      { name: 'n', type: 'DECIMAL(10,2)' },
      { name: 'text', type: 'VARCHAR' },
    ]
    const { text, hidden } = renderTable({ columns, rows: [['1.50', 'a\nb'], [null, 'x'.repeat(50)]], width: 24 })
    expect(hidden).toEqual([])
    expect(text.split('\n')).toEqual([
      '┌──────┬───────────────┐',
      '│ n    │ text          │',
      '├──────┼───────────────┤',
      '│ 1.50 │ a\\nb          │',
      '│ NULL │ xxxxxxxxxxxx… │',
      '└──────┴───────────────┘',
      '',
    ])
  })
})
