import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

export interface JobMetrics {
  runFinished(job: string, status: 'succeeded' | 'failed' | 'skipped', seconds?: number, rows?: number): void
}

/** Gets or creates a metric, so several schedulers (or tests) can share one registry. */
function metric<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create()
}

export function createJobMetrics(registry: Registry): JobMetrics {
  const registers = [registry]
  const runs = metric(registry, 'coldpipe_job_runs_total', () =>
    new Counter({ name: 'coldpipe_job_runs_total', help: 'Job runs by job and final status', labelNames: ['job', 'status'], registers }),
  )
  const duration = metric(registry, 'coldpipe_job_run_duration_seconds', () =>
    new Histogram({
      name: 'coldpipe_job_run_duration_seconds',
      help: 'Wall time of job runs, retries included',
      labelNames: ['job', 'status'],
      buckets: [1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400],
      registers,
    }),
  )
  const rows = metric(registry, 'coldpipe_job_rows_total', () =>
    new Counter({ name: 'coldpipe_job_rows_total', help: 'Rows handled by successful job runs', labelNames: ['job'], registers }),
  )
  const lastSuccess = metric(registry, 'coldpipe_job_last_success_timestamp_seconds', () =>
    new Gauge({ name: 'coldpipe_job_last_success_timestamp_seconds', help: 'Unix time of the last successful run per job', labelNames: ['job'], registers }),
  )
  return {
    runFinished(job, status, seconds, rowCount) {
      runs.inc({ job, status })
      if (seconds !== undefined && status !== 'skipped') duration.observe({ job, status }, seconds)
      if (status === 'succeeded') {
        lastSuccess.set({ job }, Date.now() / 1000)
        if (rowCount) rows.inc({ job }, rowCount)
      }
    },
  }
}
