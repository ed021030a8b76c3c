import { describe, expect, it } from 'vitest'
import { ExportProgressDisplay, progressLine } from '../../cli/progress/export-progress-display.ts'
import { formatBytes, formatCount, formatDuration } from '../../cli/progress/human-units.ts'
import type { ExportProgressEvent } from '../../ingest/export/index.ts'

function output(isTTY: boolean): { write: (t: string) => void; isTTY: boolean; columns: number; text: () => string } {
  let text = ''
  return { write: (t) => void (text += t), isTTY, columns: 60, text: () => text }
}

const event = (rows: number, extra: Partial<ExportProgressEvent> = {}): ExportProgressEvent => ({
  source: 'shop', table: 'items', rows, estimatedRows: 2_000_000, rowsPerSecond: 400_000, elapsedMs: 3_100, done: false, ...extra,
})

describe('export progress for a person', () => {
  it('shows rows of the estimate, percent, rate and ETA in human units; the end line has the total and the time', () => {
    expect(progressLine(event(1_250_000))).toBe('shop.items  1.25M / ~2.00M rows  62%  400k rows/s  ETA 1.9s')
    expect(progressLine(event(1_999_990))).toContain('99%')
    expect(progressLine(event(2_100_000, { done: true, elapsedMs: 65_000, rowsPerSecond: 32_300 }))).toBe('shop.items  2.10M rows in 1m 05s (32k rows/s)')
    expect(progressLine(event(10, { estimatedRows: 0, rowsPerSecond: 0 }))).toBe('shop.items  10 rows  0 rows/s')
    expect([formatCount(999), formatCount(12_345), formatCount(3_456_789_012)]).toEqual(['999', '12k', '3.46G'])
    expect([formatBytes(512), formatBytes(48.3 * 1024 * 1024), formatDuration(3_725_000)]).toEqual(['512 B', '48.3 MiB', '1h 02m'])
  })

  it('on a pipe: plain lines, at most one per table every few seconds, and the end line', () => {
    let now = 0
    const out = output(false)
    const display = new ExportProgressDisplay(out, () => now)
    display.update(event(0))
    for (let i = 1; i <= 60; i++) {
      now += 200
      display.update(event(i * 10_000))
    }
    display.update(event(600_000, { done: true }))
    const lines = out.text().trimEnd().split('\n')
    // 12 s of updates every 200 ms: the first line (0.2 s), one every 5 s (5.2 s, 10.2 s), then the end line.
    expect(lines.length).toBe(4)
    expect(lines.at(-1)).toMatch(/^shop\.items {2}600k rows in /)
    expect(out.text()).not.toContain('\x1b')
  })

  it('on a terminal: live lines redrawn in place (cut to the width), a permanent line per finished table, nothing left at close', async () => {
    const out = output(true)
    const display = new ExportProgressDisplay(out)
    display.update(event(100_000))
    display.update(event(5, { table: 'a_table_with_a_very_long_name_that_does_not_fit_the_terminal' }))
    await new Promise((resolve) => setTimeout(resolve, 250))
    expect(out.text()).toContain('shop.items  100k / ~2.00M rows')
    for (const line of out.text().split('\n')) expect(line.replace(/\x1b\[\d*[A-Za-z]/g, '').length).toBeLessThanOrEqual(60)
    display.update(event(2_000_000, { done: true }))
    expect(out.text()).toMatch(/\x1b\[2F\x1b\[0Jshop\.items {2}2\.00M rows in/)
    display.close()
    expect(out.text().endsWith('\x1b[1F\x1b[0J')).toBe(true)
  })
})
