import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'

const webDir = fileURLToPath(new URL('./web/', import.meta.url))

const assets: Record<string, string> = {
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
}

/** Everything the page needs comes from this server: no CDN, no inline script (strict CSP). */
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

export function registerWebRoutes(app: FastifyInstance): void {
  app.get('/', { schema: { hide: true } }, async (_request, reply) => {
    reply.header('content-security-policy', csp).type('text/html; charset=utf-8')
    return readFile(`${webDir}index.html`)
  })
  app.get('/web/:asset', { schema: { hide: true } }, async (request, reply) => {
    const { asset } = request.params as { asset: string }
    const type = assets[asset]
    if (!type) return reply.callNotFound()
    reply.header('content-security-policy', csp).header('cache-control', 'no-cache').type(type)
    return readFile(`${webDir}${asset}`)
  })
}
