import { existsSync } from 'node:fs'
import { mkdir, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'
import pg from 'pg'
import { ColdpipeError, messageOf } from '../../core/errors.ts'
import { silentLogger, type Logger } from '../../core/logger.ts'
import { catalogSeedSql } from './catalog-seed.ts'
import { identitySeedSql } from './identity-seed.ts'
import { orderingSeedSql } from './ordering-seed.ts'

export type ShopService = 'catalog' | 'ordering' | 'identity'

export const shopServices: readonly ShopService[] = ['catalog', 'ordering', 'identity']

export interface ShopDatabases {
  /** `postgres://postgres@<host>:<port>/postgres`, one per service. */
  urls: Record<ShopService, string>
  /** A reference query on one service's database, through the Postgres protocol like any other client. */
  query<T = Record<string, unknown>>(service: ShopService, sql: string, params?: unknown[]): Promise<T[]>
  close(): Promise<void>
}

export interface ShopDatabasesOptions {
  /** PGlite data folders go to `<dataDir>/<service>` (seeded only when new); default: in memory. */
  dataDir?: string
  host?: string
  logger?: Logger
}

const seeds: Record<ShopService, string> = { catalog: catalogSeedSql, ordering: orderingSeedSql, identity: identitySeedSql }

interface RunningService {
  db: PGlite
  server?: PGLiteSocketServer
  pool?: pg.Pool
}

/**
 * initdb costs seconds per PGlite instance while loading a dumped data folder costs a fraction of that, so one
 * fresh cluster is made and copied for the other services (measured: 3.7 s create vs 0.6 s load each).
 */
class ClusterTemplate {
  private fresh?: Promise<PGlite>
  private dump?: Promise<File | Blob>
  private freshTaken = false

  /** The fresh instance itself the first time it is asked for in memory, later copies of it. */
  async instance(dataDir?: string): Promise<PGlite> {
    this.fresh ??= PGlite.create()
    if (!dataDir && !this.freshTaken) {
      this.freshTaken = true
      const db = await this.fresh
      // Copies must be taken before the first service writes into the fresh cluster.
      this.dump ??= db.dumpDataDir('none')
      await this.dump
      return db
    }
    this.dump ??= this.fresh.then((db) => db.dumpDataDir('none'))
    return PGlite.create({ ...(dataDir ? { dataDir } : {}), loadDataDir: await this.dump })
  }

  async close(): Promise<void> {
    // An unused fresh instance is ours to close; a taken one belongs to its service.
    if (this.fresh && !this.freshTaken) await (await this.fresh).close()
  }
}

async function seed(db: PGlite, service: ShopService): Promise<void> {
  try {
    await db.exec(seeds[service])
  } catch (error) {
    await db.close().catch(() => undefined)
    throw error
  }
}

/** A service's database: opened from its folder when seeded before, otherwise created and seeded. */
async function openService(service: ShopService, template: ClusterTemplate, dataDir: string | undefined, logger: Logger): Promise<PGlite> {
  const started = performance.now()
  if (!dataDir) {
    const db = await template.instance()
    await seed(db, service)
    logger.debug({ service, durationMs: Math.round(performance.now() - started) }, 'shop database created and seeded')
    return db
  }
  const dir = join(dataDir, service)
  if (!existsSync(join(dir, 'PG_VERSION'))) {
    // Seeded under a temporary name and renamed, so a crash mid-seed never leaves a folder that looks seeded.
    const seeding = join(dataDir, `.${service}-seeding`)
    await rm(seeding, { recursive: true, force: true })
    await mkdir(dataDir, { recursive: true })
    const db = await template.instance(seeding)
    await seed(db, service)
    await db.close()
    await rm(dir, { recursive: true, force: true })
    await rename(seeding, dir)
    logger.info({ service, path: dir, durationMs: Math.round(performance.now() - started) }, 'shop database created and seeded')
  }
  return PGlite.create({ dataDir: dir })
}

/**
 * Starts Catalog, Ordering and Identity as three embedded Postgres databases (PGlite), each served on its own
 * local port over the real Postgres protocol, so exporters connect to them as to any Postgres server.
 */
export async function startShopDatabases(options: ShopDatabasesOptions = {}): Promise<ShopDatabases> {
  const started = performance.now()
  const logger = options.logger ?? silentLogger
  const host = options.host ?? '127.0.0.1'
  const running = new Map<ShopService, RunningService>()
  const template = new ClusterTemplate()

  const closeAll = async (): Promise<void> => {
    for (const [service, entry] of running) {
      // Clients first, then the listener, then the database: each step runs even when an earlier one failed.
      for (const step of [() => entry.pool?.end(), () => entry.server?.stop(), () => entry.db.close()]) {
        await Promise.resolve()
          .then(step)
          .catch((error: unknown) => logger.warn({ service, err: messageOf(error) }, 'error while closing a shop database'))
      }
    }
    running.clear()
  }

  const urls = {} as Record<ShopService, string>
  try {
    // One at a time: PGlite runs on this thread, so parallel starts only interleave the same work.
    for (const service of shopServices) {
      const db = await openService(service, template, options.dataDir, logger)
      const entry: RunningService = { db }
      running.set(service, entry)
      entry.server = new PGLiteSocketServer({ db, port: 0, host, maxConnections: 4 })
      await entry.server.start()
      urls[service] = `postgres://postgres@${entry.server.getServerConn()}/postgres`
    }
  } catch (error) {
    await closeAll()
    await template.close().catch(() => undefined)
    throw new ColdpipeError('DEMO_FAILED', `cannot start the demo shop's databases: ${messageOf(error)}`, { cause: error, context: { dataDir: options.dataDir } })
  }
  await template.close()
  logger.info({ urls, durationMs: Math.round(performance.now() - started) }, 'shop databases started')

  return {
    urls,
    async query<T>(service: ShopService, sql: string, params: unknown[] = []): Promise<T[]> {
      const entry = running.get(service)
      if (!entry) throw new ColdpipeError('SOURCE_UNKNOWN', `shop database ${service} is not running`, { context: { source: service } })
      // Through the socket rather than PGlite directly: PGlite has one session, and the socket server keeps a
      // client's statements out of another client's open transaction (an exporter's consistent read).
      if (!entry.pool) {
        entry.pool = new pg.Pool({ connectionString: urls[service], max: 1 })
        entry.pool.on('error', () => undefined)
      }
      try {
        return (await entry.pool.query(sql, params)).rows as T[]
      } catch (error) {
        throw new ColdpipeError('SOURCE_QUERY_FAILED', `shop database ${service}: ${messageOf(error)}`, { cause: error, context: { source: service } })
      }
    },
    close: closeAll,
  }
}
