import { describe, expect, it } from 'vitest'
import { RequestShapeMemo } from '../../reports-api/request-shape-memo.ts'

describe('RequestShapeMemo', () => {
  it('computes once per owner and shape, and never keeps a throw', () => {
    const memo = new RequestShapeMemo<object, { n: number }>(8)
    const v1 = {}
    const v2 = {}
    let computed = 0
    const compute = (): { n: number } => ({ n: ++computed })
    expect(memo.get(v1, 'top=5', compute)).toEqual({ n: 1 })
    expect(memo.get(v1, 'top=5', compute)).toEqual({ n: 1 })
    expect(memo.get(v1, 'top=6', compute)).toEqual({ n: 2 })
    // A new report version (a new definition object) starts with nothing remembered.
    expect(memo.get(v2, 'top=5', compute)).toEqual({ n: 3 })
    expect(() => memo.get(v1, 'top=x', () => { throw new Error('bad top') })).toThrow('bad top')
    expect(() => memo.get(v1, 'top=x', () => { throw new Error('bad top again') })).toThrow('bad top again')
    expect(memo.size(v1)).toBe(2)
  })

  it('stays within its bound however many distinct shapes arrive (10,000)', () => {
    const memo = new RequestShapeMemo<object, number>(512)
    const owner = {}
    let largest = 0
    for (let i = 0; i < 10_000; i++) {
      expect(memo.get(owner, `top=${i}`, () => i)).toBe(i)
      largest = Math.max(largest, memo.size(owner))
    }
    expect(largest).toBe(512)
    // The latest shapes are still answered from memory.
    expect(memo.get(owner, 'top=9999', () => -1)).toBe(9999)
  })
})
