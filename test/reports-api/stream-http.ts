import { readFile, writeFile } from 'node:fs/promises'
import { request, type IncomingMessage } from 'node:http'
import type { ServerResponse } from 'node:http'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { openDatabase, quoteLiteral } from '../../core/duckdb/index.ts'
import { tempDir } from '../helpers/temp-dir.ts'

export interface StreamedResponse {
  status: number
  headers: IncomingMessage['headers']
  body: Buffer
  trailers: NodeJS.Dict<string>
  /** False when the connection was cut before the chunked body ended. */
  complete: boolean
}

/** Listens on 127.0.0.1:0 and returns the base URL (the app is closed by the harness). */
export async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (!address || typeof address !== 'object') throw new Error('no address')
  return `http://127.0.0.1:${address.port}`
}

/** A GET read to its end over real HTTP, trailers included (inject() does not carry trailers). */
export function get(url: string, headers: Record<string, string> = {}): Promise<StreamedResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      const parts: Buffer[] = []
      res.on('data', (chunk: Buffer) => parts.push(chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts), trailers: res.trailers, complete: res.complete }))
      res.on('error', reject)
      res.on('aborted', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts), trailers: res.trailers, complete: false }))
    })
    req.on('error', reject)
    req.end()
  })
}

/** A GET whose body is not read: the caller decides when to read or cut it. */
export function openPaused(url: string, headers: Record<string, string> = {}): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      res.pause()
      resolve(res)
    })
    req.on('error', reject)
    req.end()
  })
}

/** The server-side response objects, as the HTTP server hands them to fastify, to watch their buffers. */
export function captureResponses(app: FastifyInstance): ServerResponse[] {
  const responses: ServerResponse[] = []
  app.server.on('request', (_req, res: ServerResponse) => responses.push(res))
  return responses
}

/** The fixture's orders, whole and in order: what the streaming tests download. */
export const allOrdersSql = 'select id, buyer_id, unit_price, big_number, created_at, status from ordering.orders order by id'

/** What DuckDB itself writes for `sql` (the fixture's orders by default), as the reference (an unsandboxed instance of the same snapshot). */
export async function duckdbReference(databasePath: string, format: 'csv' | 'json', sql = allOrdersSql): Promise<string> {
  const dir = await tempDir('coldpipe-stream-ref-')
  const file = join(dir, `reference.${format}`)
  const db = await openDatabase(databasePath, { readOnly: true })
  try {
    await db.run(`COPY (${sql}) TO ${quoteLiteral(file)} (FORMAT ${format}${format === 'csv' ? ', HEADER true' : ''})`)
  } finally {
    db.close()
  }
  return readFile(file, 'utf8')
}

/** Reads a downloaded Parquet body back with DuckDB and compares it with the fixture's orders, in any order. */
export async function parquetAgainstOrders(databasePath: string, body: Buffer): Promise<{ total: bigint; missing: bigint; extra: bigint }> {
  const file = join(await tempDir('coldpipe-stream-pq-'), 'got.parquet')
  await writeFile(file, body)
  const unordered = allOrdersSql.replace(' order by id', '')
  const db = await openDatabase(databasePath, { readOnly: true })
  try {
    const [counts] = await db.all<{ total: bigint; missing: bigint; extra: bigint }>(`
      select (select count(*) from read_parquet(${quoteLiteral(file)})) as total,
             (select count(*) from (${unordered} except all select * from read_parquet(${quoteLiteral(file)}))) as missing,
             (select count(*) from (select * from read_parquet(${quoteLiteral(file)}) except all ${unordered})) as extra`)
    return counts!
  } finally {
    db.close()
  }
}
