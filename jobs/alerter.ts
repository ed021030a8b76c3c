import type { Logger } from '../core/logger.ts'
import { messageOf } from '../core/errors.ts'
import type { ErasureAlert } from '../lake/erasure/index.ts'

export interface JobAlert {
  type: 'job.failed' | 'job.recovered' | 'job.warning'
  job: string
  runId: string
  trigger: string
  at: string
  attempts: number
  error?: { code: string; message: string }
  /** A run that succeeded with warnings (job.warning): what the operator must look at. */
  warnings?: { code: string; message: string; context?: Record<string, unknown> }[]
  /** Recovery: the run that failed before this success. */
  previousFailedRunId?: string
}

export type Alerter = (alert: JobAlert) => Promise<void>

/**
 * Logs every alert (error for failures, info for recoveries) and, with a URL, POSTs it as JSON. A webhook
 * that is down or slow is logged and given up after `timeoutMs`; it never fails the job.
 */
export function createAlerter(options: { logger: Logger; webhookUrl?: string; timeoutMs: number }): Alerter {
  return async (alert) => {
    const record = { alert: alert.type, job: alert.job, runId: alert.runId, error: alert.error }
    if (alert.type === 'job.failed') options.logger.error(record, `job ${alert.job} failed: ${alert.error?.code ?? ''} ${alert.error?.message ?? ''}`)
    else if (alert.type === 'job.warning') options.logger.warn({ ...record, warnings: alert.warnings }, `job ${alert.job} succeeded with ${alert.warnings?.length ?? 0} warning(s): ${alert.warnings?.map((w) => `${w.code}: ${w.message}`).join('; ') ?? ''}`)
    else options.logger.info(record, `job ${alert.job} recovered`)
    if (!options.webhookUrl) return
    await postAlert(options.webhookUrl, alert, options.timeoutMs, options.logger, { job: alert.job })
  }
}

/**
 * POSTs an alert as JSON; a webhook that is down, slow or answers an error is logged, never thrown.
 * Resolves to whether the webhook took it (a 2xx answer).
 */
async function postAlert(url: string, alert: unknown, timeoutMs: number, logger: Logger, about: Record<string, string>): Promise<boolean> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(alert),
      signal: AbortSignal.timeout(timeoutMs),
    })
    if (!response.ok) logger.warn({ ...about, status: response.status }, `alert webhook answered HTTP ${response.status}`)
    await response.body?.cancel()
    return response.ok
  } catch (error) {
    logger.warn({ ...about, err: messageOf(error) }, `alert webhook ${url} failed: ${messageOf(error)}`)
    return false
  }
}

/**
 * Erasure deadline alerts (lake/erasure/erasure-alerts.ts) the same way: a warning log record and a POST to
 * the jobs' webhook. The alert names the erasure id, its subject kind and deadline, never the subject.
 * Resolves to false when the webhook did not take it, so the next check sends it again.
 */
export function createErasureAlerter(options: { logger: Logger; webhookUrl?: string | undefined; timeoutMs: number }): (alert: ErasureAlert) => Promise<boolean> {
  return async (alert) => {
    const when = alert.type === 'erasure.overdue' ? `is past its deadline ${alert.deadline}` : `is due by ${alert.deadline}`
    options.logger.warn({ alert: alert.type, erasure: alert.erasure, subject: alert.subject, deadline: alert.deadline }, `erasure ${alert.erasure} (${alert.subject}, ${alert.status}) ${when}; run \`coldpipe erase\` for it again to finish it`)
    if (!options.webhookUrl) return true
    return postAlert(options.webhookUrl, alert, options.timeoutMs, options.logger, { erasure: alert.erasure })
  }
}
