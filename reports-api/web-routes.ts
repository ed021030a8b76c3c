import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { ColdpipeError } from '../core/errors.ts'

const webDir = fileURLToPath(new URL('./web/', import.meta.url))

const types: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
}

/** A file name of the page's own modules or of the bundles scripts/build-web.mjs writes; nothing else is served. */
const assetName = /^[a-z][a-z0-9-]*\.(js|css)$/

/**
 * Everything the page needs comes from this server: no CDN, no inline script (strict CSP). CodeMirror adds its
 * styles as constructed style sheets and Chart.js sizes its canvas through the CSSOM, which style-src does not cover.
 */
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

function notFound(path: string): ColdpipeError {
  return new ColdpipeError('ROUTE_NOT_FOUND', `no page file ${path}`, { context: { method: 'GET', path } })
}

async function sendAsset(reply: FastifyReply, file: string, name: string, path: string): Promise<unknown> {
  const type = types[name.slice(name.lastIndexOf('.') + 1)]
  if (!assetName.test(name) || !type) throw notFound(path)
  let body: Buffer
  try {
    body = await readFile(file)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(path)
    throw error
  }
  return reply.header('content-security-policy', csp).header('cache-control', 'no-cache').type(type).send(body)
}

export function registerWebRoutes(app: FastifyInstance): void {
  app.get('/', { schema: { hide: true } }, async (_request, reply) => {
    reply.header('content-security-policy', csp).header('cache-control', 'no-cache').type('text/html; charset=utf-8')
    return readFile(`${webDir}index.html`)
  })
  app.get('/web/:asset', { schema: { hide: true } }, async (request, reply) => {
    const { asset } = request.params as { asset: string }
    return sendAsset(reply, `${webDir}${asset}`, asset, `/web/${asset}`)
  })
  // The bundled libraries (Chart.js, CodeMirror): built by `npm run build` (scripts/build-web.mjs).
  app.get('/web/vendor/:asset', { schema: { hide: true } }, async (request, reply) => {
    const { asset } = request.params as { asset: string }
    return sendAsset(reply, `${webDir}vendor/${asset}`, asset, `/web/vendor/${asset}`)
  })
}
