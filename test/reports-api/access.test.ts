import { describe, expect, it } from 'vitest'
import { testApi } from './api-harness.ts'

const admin = { key: 'admin-key-000001', name: 'admin', reports: ['*'], sql: false, jobs: false }
const reader = { key: 'reader-key-00001', name: 'reader', reports: ['top_buyers'], sql: false, jobs: false }

const slowReport = `/*---
name: slow
title: Deliberately slow
params:
  n: { type: integer, default: 1000000000 }
  salt: { type: integer, required: false }
---*/
select count(*) as pairs, $salt as salt from range($n) a, range(1000000) b where (a.range + b.range) % 7 = 3
`

describe('API keys', () => {
  it('need a key when keys are configured, and limit reports per key', async () => {
    const { app } = await testApi({ config: { apiKeys: [admin, reader] } })
    const none = await app.inject('/reports/top_buyers')
    expect(none.statusCode).toBe(401)
    expect(none.json().error.code).toBe('AUTH_REQUIRED')
    expect((await app.inject({ url: '/reports', headers: { 'x-api-key': 'wrong-key-123' } })).statusCode).toBe(401)
    const asReader = { 'x-api-key': reader.key }
    expect((await app.inject({ url: '/reports/top_buyers', headers: asReader })).statusCode).toBe(200)
    const forbidden = await app.inject({ url: '/reports/stock', headers: asReader })
    expect(forbidden.statusCode).toBe(403)
    expect(forbidden.json().error).toMatchObject({ code: 'AUTH_FORBIDDEN', details: { report: 'stock', key: 'reader' } })
    expect((await app.inject({ url: '/reports/stock/schema', headers: asReader })).statusCode).toBe(403)
    const listed = (await app.inject({ url: '/reports', headers: asReader })).json().reports.map((r: { name: string }) => r.name)
    expect(listed).toEqual(['top_buyers'])
    const all = (await app.inject({ url: '/reports', headers: { 'x-api-key': admin.key } })).json().reports
    expect(all.length).toBeGreaterThan(3)
    // Reconciliation results name the keys of differing rows: a key is needed for them too.
    expect((await app.inject('/reconciliation')).json().error.code).toBe('AUTH_REQUIRED')
    expect((await app.inject('/reconciliation/ordering.orders')).statusCode).toBe(401)
    expect((await app.inject({ url: '/reconciliation', headers: asReader })).statusCode).toBe(200)
    // Operations endpoints stay open for probes and scrapers.
    expect((await app.inject('/health')).statusCode).toBe(200)
    expect((await app.inject('/ready')).statusCode).toBe(200)
  })

  it('without keys, reports are open', async () => {
    const { app } = await testApi()
    expect((await app.inject('/reports/stock')).statusCode).toBe(200)
  })
})

describe('rate limiting', () => {
  it('answers 429 RATE_LIMITED with Retry-After once a key spends its tokens, per key', async () => {
    const { app } = await testApi({ config: { apiKeys: [admin, reader], rateLimitPerMinute: 3 } })
    const as = (key: string) => ({ url: '/reports/top_buyers', headers: { 'x-api-key': key } })
    for (let i = 0; i < 3; i++) expect((await app.inject(as(reader.key))).statusCode).toBe(200)
    const limited = await app.inject(as(reader.key))
    expect(limited.statusCode).toBe(429)
    expect(limited.json().error.code).toBe('RATE_LIMITED')
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1)
    expect((await app.inject(as(admin.key))).statusCode).toBe(200)
  })
})

describe('query limits', () => {
  it('stops a report that runs longer than reportTimeoutMs with 504 REPORT_TIMEOUT', async () => {
    const { app } = await testApi({ reports: { 'slow.sql': slowReport }, config: { reportTimeoutMs: 500 } })
    const res = await app.inject('/reports/slow')
    expect(res.statusCode).toBe(504)
    expect(res.json().error).toMatchObject({ code: 'REPORT_TIMEOUT', details: { timeoutMs: 500 } })
    // The interrupted connection goes back to the pool and runs the next query.
    expect((await app.inject('/reports/slow?n=1')).statusCode).toBe(200)
  })

  it('sheds load with 503 OVERLOADED and Retry-After when queries and the queue are full', async () => {
    const { app } = await testApi({
      reports: { 'slow.sql': slowReport },
      config: { reportTimeoutMs: 1500, maxConcurrentQueries: 2, maxQueuedQueries: 2 },
    })
    const responses = await Promise.all(Array.from({ length: 10 }, (_, i) => app.inject(`/reports/slow?salt=${i}`)))
    const codes = responses.map((r) => r.statusCode)
    const shed = responses.filter((r) => r.statusCode === 503)
    expect(shed.length).toBe(6)
    for (const r of shed) {
      expect(r.json().error.code).toBe('OVERLOADED')
      expect(r.headers['retry-after']).toBe('1')
    }
    expect(codes.filter((c) => c === 504)).toHaveLength(4)
    // Once the load is gone, queries run again.
    expect((await app.inject('/reports/slow?n=1')).statusCode).toBe(200)
  })
})
