import { ColdpipeError } from '../core/errors.ts'

function parsePort(value: string, origin: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) {
    throw new ColdpipeError('CONFIG_INVALID', `${origin}: port must be an integer between 0 and 65535 (got ${JSON.stringify(value)})`, {
      context: { path: origin },
    })
  }
  return Number(value)
}

/** The API port: `--port`, else PORT from the environment, else the configured one. */
export function listenPort(flag: string | undefined, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  if (flag !== undefined) return parsePort(flag, '--port')
  if (env.PORT) return parsePort(env.PORT, 'PORT')
  return fallback
}
