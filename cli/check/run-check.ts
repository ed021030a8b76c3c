import { inspectConfigFile, type ColdpipeConfig } from '../config/index.ts'
import { isColdpipeError } from '../../core/errors.ts'
import { checkBrokers } from './broker-checks.ts'
import { fail, ok, type CheckResult } from './check-result.ts'
import { configProblemResults, scheduleResults } from './config-checks.ts'
import { checkSources } from './source-checks.ts'
import { checkLake, checkWarehouse } from './storage-checks.ts'

export interface CheckReport {
  config: string
  results: CheckResult[]
  counts: { ok: number; warn: number; fail: number }
}

export interface RunCheckOptions {
  /** Report folder when the config sets none (serve's default: `reports/` beside the config). */
  defaultReportsDir: string
  /** Time allowed for the brokers to answer. */
  brokerTimeoutMs?: number
}

/**
 * `coldpipe check`: the config as a whole, then every system it names (sources and their tables, brokers,
 * lake, warehouse), each problem a result with its fix. Never stops at the first problem; the live checks
 * run when the config's schema holds, even if schedules or references are wrong.
 */
export async function runCheck(file: string, options: RunCheckOptions): Promise<CheckReport> {
  const results: CheckResult[] = []
  let config: ColdpipeConfig | undefined
  try {
    const inspection = inspectConfigFile(file)
    config = inspection.config
    results.push(...configProblemResults(file, inspection.problems))
    if (inspection.problems.length === 0) results.push(ok('config', 'valid', `${file} is valid`))
  } catch (error) {
    // A missing environment variable or broken YAML: nothing else can be checked.
    if (!isColdpipeError(error)) throw error
    results.push(fail('config', String(error.context.path ?? error.context.variable ?? 'file'), error.message, `correct ${file}`))
  }
  if (config) {
    const live = config
    if (!results.some((r) => r.subject === 'config' && r.status === 'fail')) results.push(...scheduleResults(live))
    const groups = await Promise.all([
      checkSources(live),
      checkBrokers(live.changes, options.brokerTimeoutMs),
      checkLake(live),
      checkWarehouse(live, live.reports ?? options.defaultReportsDir),
    ])
    results.push(...groups.flat())
  }
  const count = (status: CheckResult['status']): number => results.filter((r) => r.status === status).length
  return { config: file, results, counts: { ok: count('ok'), warn: count('warn'), fail: count('fail') } }
}
