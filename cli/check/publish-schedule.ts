import type { ColdpipeConfig } from '../config/index.ts'

/**
 * Why nothing will ever publish on its own, or undefined when a publish schedule is set: without one the
 * lake fills but reports keep showing the last snapshot (or none) until someone runs `coldpipe publish`.
 */
export function missingPublishSchedule(config: ColdpipeConfig): { message: string; fix: string } | undefined {
  if (config.jobs.publish?.schedule) return undefined
  return {
    message: 'jobs.publish has no schedule: nothing publishes a warehouse snapshot, so reports never show new data',
    fix: 'set jobs.publish.schedule (e.g. "0 6 * * *" with jobs.publish.timezone), or run `coldpipe publish` by hand',
  }
}
