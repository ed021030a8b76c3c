import type { CheckReport } from './run-check.ts'

const label = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' } as const

/** A line per check (status, subject, check, message), the fix under each warning or failure, then the counts. */
export function renderCheck(report: CheckReport): string {
  const subjectWidth = Math.max(...report.results.map((r) => r.subject.length), 0)
  const checkWidth = Math.max(...report.results.map((r) => r.check.length), 0)
  const lines = [`coldpipe check of ${report.config}`, '']
  for (const r of report.results) {
    lines.push(`${label[r.status]}  ${r.subject.padEnd(subjectWidth)}  ${r.check.padEnd(checkWidth)}  ${r.message}`)
    if (r.fix && r.status !== 'ok') lines.push(`${' '.repeat(6 + subjectWidth + 2 + checkWidth + 2)}fix: ${r.fix}`)
  }
  const { ok, warn, fail } = report.counts
  lines.push('', `${ok} ok, ${warn} ${warn === 1 ? 'warning' : 'warnings'}, ${fail} failed${fail > 0 ? ': fix the failures above before the first night' : ''}`)
  return lines.join('\n') + '\n'
}
