import { describe, expect, it } from 'vitest'
import { openDatabase } from '../../core/duckdb/index.ts'
import { ColdpipeError } from '../../core/errors.ts'

describe('DuckDB errors at the boundary', () => {
  it('keep every line of the message but cut a line of megabytes (a CSV error quotes its whole offending line)', async () => {
    const db = await openDatabase(':memory:')
    try {
      const error = await db.run(`SELECT error('first line ' || repeat('x', 3000000) || chr(10) || 'Possible fix: short line')`).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(ColdpipeError)
      const message = (error as ColdpipeError).message
      expect(message.length).toBeLessThan(5000)
      expect(message).toContain('first line xxx')
      expect(message).toMatch(/… \(\d+ more characters\)/)
      expect(message).toContain('Possible fix: short line')
      const short = await db.run(`SELECT error('plain failure')`).catch((e: unknown) => e)
      expect((short as ColdpipeError).message).toContain('plain failure')
      expect((short as ColdpipeError).message).not.toContain('more characters')
    } finally {
      db.close()
    }
  })
})
