import { describe, expect, it } from 'vitest'
import { ResultCache, type CachedResult } from '../../reports-api/result-cache.ts'

const entry = (bytes: number, contentType: string): CachedResult => ({ body: Buffer.alloc(bytes, 'x'), contentType, meta: {} })

describe('ResultCache bounds the memory its entries hold', () => {
  it('counts a JSON entry twice (its answered body is a second copy of the rows), a CSV entry once', () => {
    const cache = new ResultCache(1_000)
    cache.set('1|a', entry(400, 'application/json; charset=utf-8'))
    expect(cache.size).toEqual({ entries: 1, bytes: 803 })
    cache.set('1|b', entry(400, 'application/json; charset=utf-8'))
    // 803 + 803 > 1,000: the older entry goes.
    expect(cache.size).toEqual({ entries: 1, bytes: 803 })
    expect(cache.peek('1|a')).toBeUndefined()

    const csv = new ResultCache(1_000)
    csv.set('1|a', entry(400, 'text/csv; charset=utf-8'))
    csv.set('1|b', entry(400, 'text/csv; charset=utf-8'))
    expect(csv.size).toEqual({ entries: 2, bytes: 806 })
    csv.delete('1|a')
    expect(csv.size).toEqual({ entries: 1, bytes: 403 })
  })

  it('refuses a JSON entry whose two copies exceed the whole cache', () => {
    const cache = new ResultCache(1_000)
    cache.set('1|big', entry(600, 'application/json; charset=utf-8'))
    expect(cache.size).toEqual({ entries: 0, bytes: 0 })
  })
})
