import type { Readable } from 'node:stream'

/** CSV bytes that end on a row boundary, and how many rows they hold. */
export interface CsvBatch {
  data: Buffer
  rows: number
}

const quote = 0x22
const newline = 0x0a

/**
 * Regroups a CSV byte stream into batches that end on row boundaries (a newline outside quotes; `""` inside
 * a quoted field toggles twice, so parity is enough): one batch per incoming chunk, the incomplete last row
 * carried into the next batch, and a cut after every `cutEveryRows` rows so chunks can end exactly there.
 */
export async function* csvRowBatches(stream: Readable, cutEveryRows: number): AsyncGenerator<CsvBatch> {
  let inQuote = false
  let carry: Buffer | undefined
  let untilCut = cutEveryRows
  /** The carried partial row plus data[0, end), which ends on a row boundary. */
  const complete = (data: Buffer, end: number): Buffer => {
    const head = data.subarray(0, end)
    const out = carry ? Buffer.concat([carry, head]) : head
    carry = undefined
    return out
  }
  for await (let data of stream as AsyncIterable<Buffer>) {
    let rows = 0
    let boundary = -1
    // Jumps between quotes and newlines with indexOf (native) instead of visiting every byte in JS.
    let i = 0
    let nextQuote = data.indexOf(quote)
    for (;;) {
      if (inQuote) {
        if (nextQuote < 0) break
        inQuote = false
        i = nextQuote + 1
        nextQuote = data.indexOf(quote, i)
        continue
      }
      const nl = data.indexOf(newline, i)
      if (nextQuote >= 0 && (nl < 0 || nextQuote < nl)) {
        inQuote = true
        i = nextQuote + 1
        nextQuote = data.indexOf(quote, i)
        continue
      }
      if (nl < 0) break
      rows++
      boundary = nl + 1
      i = boundary
      if (--untilCut === 0) {
        // Cut here and go on scanning the rest of this chunk on its own.
        untilCut = cutEveryRows
        yield { data: complete(data, boundary), rows }
        data = data.subarray(boundary)
        rows = 0
        boundary = -1
        i = 0
        nextQuote = data.indexOf(quote)
      }
    }
    if (rows > 0) {
      yield { data: complete(data, boundary), rows }
      data = data.subarray(boundary)
    }
    if (data.length > 0) carry = carry ? Buffer.concat([carry, data]) : data
  }
  // COPY ends every row with a newline; bytes after the last one are a row without it.
  if (carry && carry.length > 0) yield { data: carry, rows: 1 }
}
