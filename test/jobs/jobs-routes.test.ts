import type { FastifyInstance } from 'fastify'
import { describe, expect, it, onTestFinished } from 'vitest'
import { collectStatus, jobsApiPlugin, startScheduler, type Job } from '../../jobs/index.ts'
import type { ApiPlugin } from '../../reports-api/index.ts'
import { testApi } from '../reports-api/api-harness.ts'
import { tempDir } from '../helpers/temp-dir.ts'
import { gate, jobsConfig } from './job-fixtures.ts'

const keys = [
  { key: 'reader-key-123', name: 'dashboards', reports: ['*'], sql: false, jobs: false },
  { key: 'operator-key-456', name: 'operator', reports: ['*'], sql: false, jobs: true },
]

/** The reports API with the jobs plugin mounted at /jobs, as `coldpipe start` serves it. */
async function app(jobs: Job[], apiKeys = keys): Promise<{ app: FastifyInstance; lake: string }> {
  const lake = await tempDir()
  const scheduler = await startScheduler({ jobs, lakeRoot: lake, config: jobsConfig(), schedule: false })
  onTestFinished(() => scheduler.close())
  // Type-checked against the API's own hook, so a change on either side shows up here.
  const plugin: ApiPlugin = jobsApiPlugin({ scheduler, status: () => collectStatus({ lakeRoot: lake, jobs, sources: ['ordering'] }) })
  const { app: server } = await testApi({ config: { apiKeys }, deps: { jobs: plugin } })
  return { app: server, lake }
}

describe('jobs HTTP endpoints', () => {
  it('lists jobs and their runs, and runs a job with a jobs key', async () => {
    const seen: unknown[] = []
    const jobs: Job[] = [
      { id: 'export:ordering', kind: 'export', source: 'ordering', acceptsOptions: ['full', 'cursorRange', 'tables'], schedule: { cron: '0 2 * * *', timezone: 'UTC' }, run: async (ctx) => (seen.push(ctx.options), { rows: 9 }) },
      { id: 'publish', kind: 'publish', run: async () => ({}) },
    ]
    const { app: server } = await app(jobs)
    const reader = { 'x-api-key': 'reader-key-123' }
    const operator = { 'x-api-key': 'operator-key-456' }

    const listed = await server.inject({ method: 'GET', url: '/jobs', headers: reader })
    expect(listed.statusCode).toBe(200)
    expect(listed.json().jobs.map((j: { id: string }) => j.id)).toEqual(['export:ordering', 'publish'])
    expect(listed.json().jobs[0]).toMatchObject({ schedule: { cron: '0 2 * * *' }, running: false })

    const ran = await server.inject({ method: 'POST', url: '/jobs/export:ordering/run', headers: operator, payload: { full: true, wait: true } })
    expect(ran.statusCode).toBe(200)
    expect(ran.json()).toMatchObject({ job: 'export:ordering', trigger: 'manual', status: 'succeeded', rows: 9, options: { full: true } })
    expect(seen).toEqual([{ full: true }])

    const started = await server.inject({ method: 'POST', url: '/jobs/publish/run', headers: operator })
    expect(started.statusCode).toBe(202)
    expect(started.json()).toMatchObject({ job: 'publish', status: 'running' })

    const runs = await server.inject({ method: 'GET', url: '/jobs/export:ordering/runs', headers: reader })
    expect(runs.json()).toMatchObject({ job: 'export:ordering', runs: [{ runId: ran.json().runId, status: 'succeeded', rows: 9 }] })

    const status = await server.inject({ method: 'GET', url: '/jobs/status', headers: reader })
    expect(status.statusCode).toBe(200)
    expect(status.json().jobs[0]).toMatchObject({ id: 'export:ordering', lastRun: { rows: 9 } })
  })

  it('answers coded errors: no key, a key without jobs, unknown job, bad body, job already running', async () => {
    const held = gate<{ rows: number }>()
    const jobs: Job[] = [{ id: 'export:ordering', kind: 'export', acceptsOptions: ['full', 'cursorRange', 'tables'], run: () => held.promise }]
    const { app: server } = await app(jobs)
    const operator = { 'x-api-key': 'operator-key-456' }
    const code = (r: { json(): { error: { code: string } } }) => r.json().error.code

    const noKey = await server.inject({ method: 'POST', url: '/jobs/export:ordering/run' })
    expect([noKey.statusCode, code(noKey)]).toEqual([401, 'AUTH_REQUIRED'])
    const readerKey = await server.inject({ method: 'POST', url: '/jobs/export:ordering/run', headers: { 'x-api-key': 'reader-key-123' } })
    expect([readerKey.statusCode, code(readerKey)]).toEqual([403, 'AUTH_FORBIDDEN'])
    const wrongKey = await server.inject({ method: 'GET', url: '/jobs', headers: { 'x-api-key': 'nope-nope-nope' } })
    expect([wrongKey.statusCode, code(wrongKey)]).toEqual([401, 'AUTH_REQUIRED'])
    const unknown = await server.inject({ method: 'POST', url: '/jobs/export:nope/run', headers: operator })
    expect([unknown.statusCode, code(unknown)]).toEqual([404, 'JOB_NOT_FOUND'])
    const unknownRuns = await server.inject({ method: 'GET', url: '/jobs/export:nope/runs', headers: operator })
    expect([unknownRuns.statusCode, code(unknownRuns)]).toEqual([404, 'JOB_NOT_FOUND'])
    const badBody = await server.inject({ method: 'POST', url: '/jobs/export:ordering/run', headers: operator, payload: { full: 'yes' } })
    expect([badBody.statusCode, code(badBody)]).toEqual([400, 'REQUEST_INVALID'])
    expect(badBody.json().error.details.path).toBe('full')

    const first = await server.inject({ method: 'POST', url: '/jobs/export:ordering/run', headers: operator })
    expect(first.statusCode).toBe(202)
    const second = await server.inject({ method: 'POST', url: '/jobs/export:ordering/run', headers: operator })
    expect([second.statusCode, code(second)]).toEqual([409, 'JOB_ALREADY_RUNNING'])
    held.open({ rows: 1 })
  })

  it('never runs jobs over HTTP when no API key is configured, but lets reads through', async () => {
    const { app: server } = await app([{ id: 'publish', kind: 'publish', run: async () => ({}) }], [])
    expect((await server.inject({ method: 'GET', url: '/jobs' })).statusCode).toBe(200)
    const post = await server.inject({ method: 'POST', url: '/jobs/publish/run', headers: { 'x-api-key': 'anything-at-all' } })
    expect([post.statusCode, post.json().error.code]).toEqual([401, 'AUTH_REQUIRED'])
  })
})
