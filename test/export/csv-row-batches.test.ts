import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { csvRowBatches, type CsvBatch } from '../../ingest/export/csv-row-batches.ts'

const csv = '1,"a, ""b"""\n2,"line\nbreak"\n3,\n4,""\n5,"x\n\ny"\n6,z\n7,"q"\n'
const rowsOf = ['1,"a, ""b"""\n', '2,"line\nbreak"\n', '3,\n', '4,""\n', '5,"x\n\ny"\n', '6,z\n', '7,"q"\n']

async function batchesOf(chunks: string[], cutEveryRows: number): Promise<CsvBatch[]> {
  const out: CsvBatch[] = []
  for await (const batch of csvRowBatches(Readable.from(chunks.map((c) => Buffer.from(c))), cutEveryRows)) out.push(batch)
  return out
}

describe('csvRowBatches', () => {
  it('ends every batch on a row boundary and cuts after every N rows, wherever the stream splits', async () => {
    for (const size of [1, 2, 3, 5, 7, 11, csv.length]) {
      const chunks = Array.from({ length: Math.ceil(csv.length / size) }, (_, i) => csv.slice(i * size, (i + 1) * size))
      const batches = await batchesOf(chunks, 3)
      expect(batches.map((b) => b.data.toString()).join(''), `split every ${size}`).toBe(csv)
      let seen = 0
      for (const batch of batches) {
        const text = batch.data.toString()
        // The batch is exactly the next `rows` rows.
        expect(text, `split every ${size}`).toBe(rowsOf.slice(seen, seen + batch.rows).join(''))
        // No batch straddles a multiple of 3 rows.
        expect(Math.floor(seen / 3), `split every ${size}`).toBe(Math.floor((seen + batch.rows - 1) / 3))
        seen += batch.rows
      }
      expect(seen).toBe(7)
    }
  })

  it('counts bytes after the last newline as one more row', async () => {
    expect(await batchesOf(['1,a\n2,', 'b'], 10)).toEqual([
      { data: Buffer.from('1,a\n'), rows: 1 },
      { data: Buffer.from('2,b'), rows: 1 },
    ])
  })
})
