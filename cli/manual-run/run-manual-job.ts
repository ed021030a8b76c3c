import { ColdpipeError } from '../../core/errors.ts'
import { createAlerter } from '../../jobs/alerter.ts'
import { JobRunner, runnerSettings } from '../../jobs/job-runner.ts'
import type { Job, RunOptions, RunRecord } from '../../jobs/job-types.ts'
import { jobsDefaults, type JobsConfig } from '../../jobs/jobs-config.ts'
import type { CommandContext } from '../command-context.ts'

export interface ManualRunRequest {
  job: Job
  lakeRoot: string
  jobs: JobsConfig
  options?: RunOptions
  runId?: string
}

/**
 * Runs a job once because a user asked (`coldpipe export`, `coldpipe publish`): the same lock as its scheduled
 * runs, recorded in the run history as trigger `manual` (so `coldpipe status` shows it), with the job's
 * deadline, retries and alerts. A run still going at shutdown is recorded failed.
 */
export async function runManualJob(context: CommandContext, request: ManualRunRequest): Promise<RunRecord> {
  const jobsConfig = { ...jobsDefaults, ...request.jobs }
  const logger = context.logger
  const runner = new JobRunner({
    lakeRoot: request.lakeRoot,
    ...runnerSettings(jobsConfig),
    logger,
    alert: createAlerter({ logger, webhookUrl: jobsConfig.alertWebhookUrl, timeoutMs: jobsConfig.alertTimeoutMs }),
  })
  // Registered after whatever the job's stages opened, so it closes first: the run is recorded before its sources close.
  context.onShutdown(() => runner.close())
  const started = await runner.start(request.job, {
    trigger: 'manual',
    ...(request.options ? { options: request.options } : {}),
    ...(request.runId ? { runId: request.runId } : {}),
  })
  if (!started.started) {
    throw new ColdpipeError('JOB_ALREADY_RUNNING', `job ${request.job.id} is already running: ${started.reason}`, { context: { job: request.job.id } })
  }
  return started.done
}
