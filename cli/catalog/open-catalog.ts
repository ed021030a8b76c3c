import { ColdpipeError } from '../../core/errors.ts'
import { MysqlCatalog } from './mysql-catalog.ts'
import { PostgresCatalog } from './postgres-catalog.ts'
import type { SourceCatalog } from './source-catalog.ts'

export type SourceKind = 'postgres' | 'mysql'

/** The source kind a database URL names: postgres:// (postgresql://), mysql:// or mariadb://. */
export function sourceKindOfUrl(url: string): SourceKind {
  const scheme = /^([a-z]+):\/\//i.exec(url)?.[1]?.toLowerCase()
  if (scheme === 'postgres' || scheme === 'postgresql') return 'postgres'
  if (scheme === 'mysql' || scheme === 'mariadb') return 'mysql'
  throw new ColdpipeError('REQUEST_INVALID', `database URL must start with postgres://, mysql:// or mariadb:// (got ${scheme ? `${scheme}://` : 'no scheme'})`, {
    context: { scheme },
  })
}

/** mysql2 knows only mysql://; a mariadb:// URL is the same server protocol. */
export function driverUrl(url: string): string {
  return url.replace(/^mariadb:\/\//i, 'mysql://')
}

export async function openCatalog(kind: SourceKind, url: string, options: { schema?: string; connectTimeoutMs?: number } = {}): Promise<SourceCatalog> {
  return kind === 'postgres' ? PostgresCatalog.connect(url, options) : MysqlCatalog.connect(driverUrl(url), options)
}
