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

  it('appendLine: the line stagedHead and the payload make, keys escaped as JSON.stringify does, bodies and keys read back across chunk boundaries', async () => {
    const chunks = new NdjsonChunks()
    const expected: Buffer[] = []
    const placed: { chunk: number; start: number; keyStart: number; keyEnd: number; text: string; key: Buffer | null }[] = []
    // Every byte value in a key (controls, quote, backslash, DEL, bytes that are not UTF-8), UTF-8 text, and no key.
    const keys = [Buffer.from(Array.from({ length: 256 }, (_, b) => b)), Buffer.from('{"id":"ключ-😀\\"}'), null, Buffer.from([0xc3, 0x28, 0x0a, 0x7f])]
    for (let i = 0; i < 5000; i++) {
      const key = keys[i % keys.length]!
      const headers = i % 3 ? '{}' : Buffer.from(JSON.stringify({ origin: 'ünïcode' })).toString('latin1')
      const text = i === 2500 ? 'z'.repeat(3 << 20) : `{"v":"${'é'.repeat(i % 300)}${i}"}`
      const body = Buffer.from(`xx${text}yy`)
      chunks.appendLine(String(i), String(1_704_067_200_000 + i), key, headers, body, 2, body.length - 2)
      placed.push({ chunk: chunks.lastChunk, start: chunks.lastStart, keyStart: chunks.lastKeyStart, keyEnd: chunks.lastKeyEnd, text, key })
      // What the head was before appendLine: JSON.stringify of the key read as latin1, written as latin1.
      const keyJson = key === null ? 'null' : JSON.stringify(key.toString('latin1'))
      expected.push(Buffer.concat([Buffer.from(`{"o":${i},"ts":${1_704_067_200_000 + i},"k":${keyJson},"h":${headers},"p":`, 'latin1'), Buffer.from(`${text}}\n`)]))
    }
    const buffers = chunks.buffers()
    expect(buffers.length).toBeGreaterThanOrEqual(3)
    for (const { chunk, start, keyStart, keyEnd, text, key } of placed) {
      expect(chunks.body(chunk, start, Buffer.byteLength(text)).toString('utf8')).toBe(text)
      expect(keyStart < 0 ? null : Buffer.from(JSON.parse(chunks.latin1(chunk, keyStart, keyEnd)) as string, 'latin1')).toEqual(key)
    }
    const file = join(await tempDir(), 'staged.ndjson')
    await writeBuffers(file, buffers)
    expect((await readFile(file)).equals(Buffer.concat(expected))).toBe(true)
    // A valid UTF-8 key gives the line stagedHead gives, read as text.
    const utf8 = Buffer.concat(expected.slice(1, 2)).toString('utf8')
    expect(JSON.parse(utf8)).toMatchObject({ o: 1, k: '{"id":"ключ-😀\\"}', h: {} })
  })
})
