import type { ColdpipeConfig } from '../config/index.ts'
import type { ConfigProblem } from '../../core/config/index.ts'
import { describeJobsFromConfig } from '../build-jobs.ts'
import { parseCronSchedule } from '../../jobs/index.ts'
import { fail, ok, warn, type CheckResult } from './check-result.ts'
import { missingPublishSchedule } from './publish-schedule.ts'

/** Each config problem as a failed check naming its path; the reason says what a valid value looks like. */
export function configProblemResults(file: string, problems: ConfigProblem[]): CheckResult[] {
  return problems.map((p) => fail('config', p.path, p.reason, `edit ${p.path} in ${file}`))
}

/** Each scheduled job with its next run, and a warning when nothing will ever publish. */
export function scheduleResults(config: ColdpipeConfig, now = new Date()): CheckResult[] {
  const results: CheckResult[] = []
  for (const job of describeJobsFromConfig(config)) {
    if (!job.schedule) continue
    const next = parseCronSchedule(job.schedule.cron, job.schedule.timezone).next(now)
    results.push(ok(`job ${job.id}`, 'schedule', `${job.schedule.cron} (${job.schedule.timezone}), next run ${next ? next.toISOString() : 'not within 5 years'}`))
  }
  const publish = missingPublishSchedule(config)
  if (publish) results.push(warn('job publish', 'schedule', publish.message, publish.fix))
  return results
}
