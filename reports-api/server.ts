import type { FastifyInstance } from 'fastify'
import { buildApp, type AppDeps } from './app.ts'

export interface RunningServer {
  url: string
  app: FastifyInstance
  close(): Promise<void>
}

/** Builds the app and listens on config.host:config.port (0 picks a free port); logs the URL. */
export async function startServer(deps: AppDeps & { port?: number; host?: string }): Promise<RunningServer> {
  const app = await buildApp(deps)
  const host = deps.host ?? deps.config.host
  const port = deps.port ?? deps.config.port
  try {
    await app.listen({ host, port })
  } catch (error) {
    await app.close()
    throw error
  }
  const address = app.server.address()
  const actualPort = typeof address === 'object' && address ? address.port : port
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`
  deps.logger.info({ url, reportsDir: deps.reportsDir }, `reports API listening on ${url}`)
  let closing: Promise<void> | undefined
  return { url, app, close: () => (closing ??= app.close()) }
}
