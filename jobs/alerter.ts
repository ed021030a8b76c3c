import type { Logger } from '../core/logger.ts'
import { messageOf } from '../core/errors.ts'

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
    try {
      const response = await fetch(options.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alert),
        signal: AbortSignal.timeout(options.timeoutMs),
      })
      if (!response.ok) options.logger.warn({ job: alert.job, status: response.status }, `alert webhook answered HTTP ${response.status}`)
      await response.body?.cancel()
    } catch (error) {
      options.logger.warn({ job: alert.job, err: messageOf(error) }, `alert webhook ${options.webhookUrl} failed: ${messageOf(error)}`)
    }
  }
}
