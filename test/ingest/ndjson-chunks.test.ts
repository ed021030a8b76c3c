import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { NdjsonChunks, writeBuffers } from '../../ingest/changes/ndjson-file.ts'
import { tempDir } from '../helpers/temp-dir.ts'

describe('NdjsonChunks (the fast path staging file)', () => {
  it('keeps every byte across chunk boundaries, multi-byte heads and bodies larger than a chunk', async () => {
    const chunks = new NdjsonChunks()
    const expected: string[] = []
    for (let i = 0; i < 5000; i++) {
      // A head with 2-, 3- and 4-byte UTF-8 characters; a body cut out of the middle of a larger buffer.
      const head = `{"k":"ключ-€-😀-${i}","p":`
      const text = i === 2500 ? 'z'.repeat(3 << 20) : `"${'é'.repeat(i % 300)}${i}"`
      const body = Buffer.from(`xx${text}yy`)
      chunks.append(head, body, 2, body.length - 2, '}\n')
      expected.push(`${head}${text}}\n`)
    }
    const buffers = chunks.buffers()
    expect(buffers.length).toBeGreaterThanOrEqual(3)
    const file = join(await tempDir(), 'staged.ndjson')
    await writeBuffers(file, buffers)
    expect(await readFile(file, 'utf8')).toBe(expected.join(''))
  })

  it('appendBytes: one-byte heads, bodies read back through body(), across chunk boundaries', async () => {
    const chunks = new NdjsonChunks()
    const expected: string[] = []
    const placed: { chunk: number; start: number; text: string }[] = []
    for (let i = 0; i < 5000; i++) {
      // The head as stagedHeadBytes gives it: UTF-8 bytes one char each.
      const head = Buffer.from(`{"o":${i},"k":"ключ-😀","p":`).toString('latin1')
      const text = i === 2500 ? 'z'.repeat(3 << 20) : `{"v":"${'é'.repeat(i % 300)}${i}"}`
      const body = Buffer.from(`xx${text}yy`)
      chunks.appendBytes(head, body, 2, body.length - 2)
      placed.push({ chunk: chunks.lastChunk, start: chunks.lastStart, text })
      expected.push(`${Buffer.from(head, 'latin1').toString('utf8')}${text}}\n`)
    }
    const buffers = chunks.buffers()
    expect(buffers.length).toBeGreaterThanOrEqual(3)
    for (const { chunk, start, text } of placed) expect(chunks.body(chunk, start, Buffer.byteLength(text)).toString('utf8')).toBe(text)
    const file = join(await tempDir(), 'staged.ndjson')
    await writeBuffers(file, buffers)
    expect(await readFile(file, 'utf8')).toBe(expected.join(''))
  })
})
