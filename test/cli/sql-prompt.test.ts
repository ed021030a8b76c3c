import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { waitFor } from '../helpers/wait-for.ts'
import { ptyColdpipe, snapshotConfig } from './sql-prompt-pty.ts'

/** A query DuckDB would run for hours: a cross join of 10^12 rows summed. */
const endless = 'select sum(a.range * b.range) as s from range(1000000) a, range(1000000) b;'

describe('coldpipe sql prompt on a terminal', { timeout: 180_000 }, () => {
  it('Ctrl-C cancels a running query and clears a half-typed entry; the prompt stays usable; Ctrl-C twice or Ctrl-D exits', async () => {
    const { dir, config } = await snapshotConfig()
    const pty = ptyColdpipe(config, [], { env: { COLDPIPE_HISTORY: join(dir, 'history') } })
    await pty.waitFor(/coldpipe> $/)

    let mark = pty.output().length
    pty.type(`${endless}\r`)
    await pty.waitFor(/b;\n/, mark)
    pty.type('\x03')
    await pty.waitFor(/query interrupted[^\n]*\ncoldpipe> $/, mark, 60_000)

    mark = pty.output().length
    pty.type('select 42 as answer;\r')
    await pty.waitFor(/│\s+42 │\n[\s\S]*\(1 row\)\ncoldpipe> $/, mark)

    // A half-typed line, then a half-typed multi-line entry: Ctrl-C drops each, nothing of them runs later.
    mark = pty.output().length
    pty.type('select 1 +')
    await pty.waitFor(/select 1 \+$/, mark)
    pty.type('\x03')
    await pty.waitFor(/\^C\ncoldpipe> $/, mark)
    pty.type('select\r')
    await pty.waitFor(/\.\.\.> $/, mark)
    pty.type('\x03')
    await pty.waitFor(/\.\.\.> \^C\ncoldpipe> $/, mark)
    pty.type('select 7 as seven;\r')
    const after = await pty.waitFor(/seven[\s\S]*│\s+7 │[\s\S]*\(1 row\)\ncoldpipe> $/, mark)
    expect(after.slice(mark)).not.toContain('error')

    // Ctrl-C on an empty line only warns; a second one leaves, with exit code 0.
    mark = pty.output().length
    pty.type('\x03')
    await pty.waitFor(/Ctrl-C again[^\n]*\ncoldpipe> $/, mark)
    pty.type('\x03')
    expect(await pty.exited).toBe(0)

    const second = ptyColdpipe(config, [], { env: { COLDPIPE_HISTORY: join(dir, 'history') } })
    await second.waitFor(/coldpipe> $/)
    second.type('\x04')
    expect(await second.exited).toBe(0)

    // With -c there is no prompt: Ctrl-C interrupts the query and ends the process (130, as for any SIGINT).
    const oneShot = ptyColdpipe(config, ['-c', `select 'first done' as started; ${endless}`])
    await oneShot.waitFor(/first done/)
    oneShot.type('\x03')
    expect(await oneShot.exited).toBe(130)
    expect(oneShot.output()).toContain('INTERRUPT')
  })

  it('keeps history in a file from one run to the next and completes table names and dot commands with Tab', async () => {
    const { dir, config } = await snapshotConfig()
    const history = join(dir, 'state', 'history')
    const first = ptyColdpipe(config, [], { env: { COLDPIPE_HISTORY: history } })
    await first.waitFor(/coldpipe> $/)
    first.type('select 123 as marker;\r')
    await first.waitFor(/│\s+123 │[\s\S]*coldpipe> $/)
    first.type('\x04')
    expect(await first.exited).toBe(0)
    expect(await readFile(history, 'utf8')).toContain('select 123 as marker;\n')

    const second = ptyColdpipe(config, [], { env: { COLDPIPE_HISTORY: history } })
    await second.waitFor(/coldpipe> $/)
    let mark = second.output().length
    second.type('\x1b[A')
    await second.waitFor(/select 123 as marker;$/, mark)
    second.type('\r')
    await second.waitFor(/marker[\s\S]*│\s+123 │[\s\S]*coldpipe> $/, mark)

    mark = second.output().length
    second.type('select count(*) as n from catalog.catalog_b')
    await second.waitFor(/catalog\.catalog_b$/, mark)
    second.type('\t')
    await second.waitFor(/catalog\.catalog_brands ?$/, mark)
    second.type(';\r')
    await second.waitFor(/│ +5 │[\s\S]*\(1 row\)\ncoldpipe> $/, mark)

    // A column name completes too, and a dot command.
    mark = second.output().length
    second.type('select available_st')
    await second.waitFor(/available_st$/, mark)
    second.type('\t')
    await second.waitFor(/available_stock ?$/, mark)
    second.type(' from catalog.catalog_items where id = 3;\r')
    await second.waitFor(/│ +97 │[\s\S]*coldpipe> $/, mark)
    mark = second.output().length
    second.type('.tim')
    await second.waitFor(/\.tim$/, mark)
    second.type('\t')
    await second.waitFor(/\.timer ?$/, mark)
    second.type(' on\rselect 1 as one;\r')
    await second.waitFor(/Run Time: \d+\.\d{3} s\ncoldpipe> $/, mark)
    second.type('.quit\r')
    expect(await second.exited).toBe(0)
    expect(await readFile(history, 'utf8')).toMatch(/select 123 as marker;\n[\s\S]*catalog\.catalog_brands;\n[\s\S]*\.quit\n$/)
  })

  it('caps rows with "N more rows", fits a 40-column terminal, right-aligns numbers and pages long output', async () => {
    const { dir, config } = await snapshotConfig()
    const paged = join(dir, 'paged.txt')
    const pty = ptyColdpipe(config, [], { columns: 40, rows: 30, env: { COLDPIPE_HISTORY: join(dir, 'history'), PAGER: `cat > '${paged}'` } })
    await pty.waitFor(/coldpipe> $/)
    const lines = (from: number) => pty.output().slice(from).split('\n').slice(1, -1)

    let mark = pty.output().length
    pty.type('select 7 as n, null as x, \'y\' as s union all select 12345, 1, \'z\' order by n;\r')
    await pty.waitFor(/\(2 rows\)\ncoldpipe> $/, mark)
    expect(lines(mark)).toEqual([
      '┌───────┬──────┬───┐',
      '│ n     │ x    │ s │',
      '├───────┼──────┼───┤',
      '│     7 │ NULL │ y │',
      '│ 12345 │    1 │ z │',
      '└───────┴──────┴───┘',
      '(2 rows)',
    ])

    // 40 rows would overflow the 30-row screen: the pager gets them, the terminal only the prompt.
    mark = pty.output().length
    pty.type('select id, status, buyer_id from ordering.orders order by id;\r')
    await pty.waitFor(/coldpipe> $/, mark)
    const page = await waitFor(async () => {
      const text = await readFile(paged, 'utf8').catch(() => '')
      return text.includes('shows more)') ? text : undefined
    })
    expect(page).toMatch(/\(300 rows, 40 shown: 260 more rows;\n\.maxrows N shows more\)/)
    expect(page.split('\n').filter((line) => line.startsWith('│ ')).length).toBe(41)
    expect(pty.output().slice(mark)).not.toContain('more rows')

    mark = pty.output().length
    pty.type('.pager off\r.maxrows 5\rselect * from ordering.orders order by id;\r')
    await pty.waitFor(/5 shown[\s\S]*coldpipe> $/, mark)
    const table = pty.output().slice(pty.output().lastIndexOf('order by id;'))
    expect(table).toMatch(/\(300 rows, 5 shown: 295 more rows;\n\.maxrows N shows more\)/)
    expect(table).toMatch(/\(5 columns not shown to fit the\nterminal: unit_price, big_number,/)
    // Every line coldpipe wrote (the echo of the typed query is the terminal's business).
    for (const line of table.split('\n').slice(2)) expect([...line].length).toBeLessThanOrEqual(40)
    expect(table).toContain('│  4 │        4 │       4 │        2 │')

    // A wide text cell is cut with … to fit.
    mark = pty.output().length
    pty.type(`select 1 as id, repeat('x', 100) as note;\r`)
    await pty.waitFor(/\(1 row\)\ncoldpipe> $/, mark)
    const cut = lines(mark)
    expect(cut[3]).toMatch(/^│  1 │ x+… │$/)
    expect([...cut[3]!].length).toBe(40)
    pty.type('.exit\r')
    expect(await pty.exited).toBe(0)
  })

  it('pages through less by default; a Ctrl-C inside the pager leaves the prompt running', async () => {
    const { dir, config } = await snapshotConfig()
    const pty = ptyColdpipe(config, [], { columns: 60, rows: 20, env: { PAGER: '', COLDPIPE_HISTORY: join(dir, 'history') } })
    await pty.waitFor(/coldpipe> $/)
    let mark = pty.output().length
    pty.type('select id from ordering.orders;\r')
    // less shows the first screen (rows 0..15 of the table) and its own prompt.
    await pty.waitFor(/│ 15 │\n:$/, mark)
    mark = pty.output().length
    pty.type('\x03q')
    await pty.waitFor(/coldpipe> $/, mark)
    mark = pty.output().length
    pty.type('select 5 as five;\r')
    await pty.waitFor(/│    5 │[\s\S]*\(1 row\)\ncoldpipe> $/, mark)
    pty.type('\x04')
    expect(await pty.exited).toBe(0)
  })
})
