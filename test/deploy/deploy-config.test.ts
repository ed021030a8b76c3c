import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { loadConfig } from '../../cli/config/index.ts'
import { mysqlDatabase, postgresSchema } from '../helpers/databases.ts'

const root = new URL('../..', import.meta.url).pathname
const run = promisify(execFile)

interface Connector {
  name: string
  config: Record<string, string>
}

async function connectors(): Promise<{ file: string; text: string; connector: Connector }[]> {
  const dir = join(root, 'deploy/debezium')
  const files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort()
  return Promise.all(
    files.map(async (file) => {
      const text = await readFile(join(dir, file), 'utf8')
      return { file, text, connector: JSON.parse(text) as Connector }
    }),
  )
}

/** The environment docker-compose gives the coldpipe service (with its defaults). */
async function composeEnvironment(): Promise<Record<string, string>> {
  const compose = parseYaml(await readFile(join(root, 'docker-compose.yml'), 'utf8')) as { services: Record<string, { environment?: Record<string, string> }> }
  return Object.fromEntries(
    Object.entries(compose.services.coldpipe!.environment ?? {}).map(([k, v]) => [k, String(v).replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1')]),
  )
}

describe('deployment: compose, Debezium connectors, seed data', () => {
  it('deploy/coldpipe.yaml loads with the config loader, given the environment compose provides', async () => {
    const config = loadConfig(join(root, 'deploy/coldpipe.yaml'), await composeEnvironment())
    expect(config.lake).toBe('/data/lake')
    expect(config.changes?.brokers).toEqual(['kafka:9092'])
    expect(config.changes?.topics.length).toBeGreaterThan(0)
    expect(config.sources.ordering?.url).toBe('postgres://postgres:coldpipe@postgres:5432/ordering')
    expect(config.api.apiKeys.some((k) => k.jobs)).toBe(true)
  })

  it('has a connector for every Debezium topic coldpipe consumes, with the envelope settings the change ingest relies on', async () => {
    const config = loadConfig(join(root, 'deploy/coldpipe.yaml'), await composeEnvironment())
    const all = await connectors()
    expect(all.map((c) => c.file)).toEqual(['catalog-postgres.json', 'ordering-postgres.json'])
    const covered = new Set<string>()
    for (const { file, text, connector } of all) {
      // register-connectors.sh cuts the config object out by its two-space layout.
      expect(text, file).toBe(`${JSON.stringify(connector, null, 2)}\n`)
      expect(connector.name, file).toBe(file.replace(/\.json$/, ''))
      const c = connector.config
      expect(c['connector.class']).toBe('io.debezium.connector.postgresql.PostgresConnector')
      expect(c['plugin.name']).toBe('pgoutput')
      expect(c['key.converter']).toBe('org.apache.kafka.connect.json.JsonConverter')
      expect(c['value.converter']).toBe('org.apache.kafka.connect.json.JsonConverter')
      // Envelopes carry their Connect schema, so columns are typed faithfully.
      expect(c['key.converter.schemas.enable']).toBe('true')
      expect(c['value.converter.schemas.enable']).toBe('true')
      // Decimals as org.apache.kafka.connect.data.Decimal (exact), times as io.debezium.time.Micro*.
      expect(c['decimal.handling.mode']).toBe('precise')
      expect(c['time.precision.mode']).toBe('adaptive_time_microseconds')
      expect(c['tombstones.on.delete']).toBe('false')
      expect(c['database.password']).toBe('${env:POSTGRES_PASSWORD}')
      const prefix = c['topic.prefix']!
      const service = config.sources[prefix]
      expect(service?.kind, `topic.prefix ${prefix} names a postgres source`).toBe('postgres')
      expect(c['database.dbname']).toBe(new URL(service!.url).pathname.slice(1))
      const included = c['table.include.list']!.split(',').sort()
      const topics = config.changes!.topics.filter((t) => t.format === 'debezium' && t.topic.startsWith(`${prefix}.`))
      // Debezium names topics <topic.prefix>.<schema>.<table>.
      expect(included).toEqual(topics.map((t) => t.topic.slice(prefix.length + 1)).sort())
      for (const topic of topics) {
        expect(topic.service).toBe(prefix)
        // Change events land beside the exported table, in <table>_cdc.
        expect(topic.topic).toBe(`${prefix}.public.${topic.table!.replace(/_cdc$/, '')}`)
        covered.add(topic.topic)
      }
    }
    expect([...covered].sort()).toEqual(config.changes!.topics.filter((t) => t.format === 'debezium').map((t) => t.topic).sort())
  })

  it('seeds Postgres with every table the connectors stream and the exports read', async () => {
    const config = loadConfig(join(root, 'deploy/coldpipe.yaml'), await composeEnvironment())
    for (const { connector } of await connectors()) {
      const database = connector.config['database.dbname']!
      const seed = join(root, 'deploy/seed/postgres', (await readdir(join(root, 'deploy/seed/postgres'))).find((f) => f.includes(database))!)
      const sql = (await readFile(seed, 'utf8')).replace(/^\\connect .*$/m, '')
      const { client, schema } = await postgresSchema()
      await client.query(`SET search_path TO ${schema}`)
      await client.query(sql)
      const { rows } = await client.query<{ table_name: string; identity: string; count: string }>(
        `SELECT c.relname AS table_name, c.relreplident AS identity FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r' ORDER BY 1`,
        [schema],
      )
      const streamed = connector.config['table.include.list']!.split(',').map((t) => t.replace(/^public\./, '')).sort()
      expect(rows.map((r) => r.table_name)).toEqual(streamed)
      expect(rows.every((r) => r.identity === 'f'), 'REPLICA IDENTITY FULL').toBe(true)
      const exported = config.exports.find((e) => e.source === connector.config['topic.prefix'])!.tables!.map((t) => t.name)
      for (const table of exported) {
        const count = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.${table}`)
        expect(Number(count.rows[0]!.n), `${database}.${table} has seed rows`).toBeGreaterThan(0)
      }
    }
    const databases = await readFile(join(root, 'deploy/seed/postgres/00-databases.sql'), 'utf8')
    for (const { connector } of await connectors()) expect(databases).toContain(`CREATE DATABASE ${connector.config['database.dbname']};`)
  })

  it('seeds MariaDB with the identity tables the export reads', async () => {
    const config = loadConfig(join(root, 'deploy/coldpipe.yaml'), await composeEnvironment())
    const { connection, database } = await mysqlDatabase()
    const sql = (await readFile(join(root, 'deploy/seed/mariadb/10-identity.sql'), 'utf8'))
      .replace(/^CREATE DATABASE .*$/m, '')
      .replace(/^USE identity;$/m, `USE ${database};`)
    await connection.query(sql)
    for (const table of config.exports.find((e) => e.source === 'identity')!.tables!) {
      const [rows] = await connection.query(`SELECT count(*) AS n FROM ${database}.${table.name}`)
      expect(Number((rows as { n: number }[])[0]!.n)).toBeGreaterThan(0)
    }
    expect(new URL(config.sources.identity!.url).pathname).toBe('/identity')
  })

  it('docker-compose.yml wires the pieces together', async () => {
    const compose = parseYaml(await readFile(join(root, 'docker-compose.yml'), 'utf8')) as {
      version: string
      services: Record<string, { image?: string; command?: string[]; volumes?: string[]; environment?: Record<string, unknown>; build?: string }>
    }
    expect(compose.version).toBeDefined()
    const s = compose.services
    expect(s.kafka!.image).toMatch(/^apache\/kafka:/)
    expect(s.kafka!.environment!.KAFKA_PROCESS_ROLES).toBe('broker,controller')
    expect(s.connect!.image).toMatch(/debezium\/connect:/)
    expect(s.postgres!.command).toContain('wal_level=logical')
    expect(s.postgres!.volumes).toContain('./deploy/seed/postgres:/docker-entrypoint-initdb.d:ro')
    expect(s.mariadb!.volumes).toContain('./deploy/seed/mariadb:/docker-entrypoint-initdb.d:ro')
    expect(s['register-connectors']!.volumes).toContain('./deploy/debezium:/debezium:ro')
    expect(existsSync(join(root, 'deploy/debezium/register-connectors.sh'))).toBe(true)
    expect(s.coldpipe!.build).toBe('.')
    expect(s.coldpipe!.volumes).toContain('./deploy/coldpipe.yaml:/config/coldpipe.yaml:ro')
    // Every ${VAR} the compose coldpipe.yaml needs without a default is set for the coldpipe service.
    const yamlText = await readFile(join(root, 'deploy/coldpipe.yaml'), 'utf8')
    const needed = [...yamlText.matchAll(/\$\{([A-Z_]+)\}/g)].map((m) => m[1]!)
    for (const name of needed) expect(Object.keys(s.coldpipe!.environment!), name).toContain(name)
    // Kafka advertises the name the other services use.
    expect(s.kafka!.environment!.KAFKA_ADVERTISED_LISTENERS).toContain('kafka:9092')
    expect(String(s.kafka!.environment!.CLUSTER_ID)).toMatch(/^\$\{KAFKA_CLUSTER_ID:-[A-Za-z0-9_-]{22}\}$/)
  })

  it('passes `docker-compose config`', async () => {
    const which = await run('sh', ['-c', 'command -v docker-compose || true'])
    if (!which.stdout.trim()) {
      // CI installs Debian's docker-compose (apt-get install -y docker-compose); without it this check cannot run.
      console.warn('docker-compose not installed; skipping `docker-compose config`')
      return
    }
    const { stdout } = await run('docker-compose', ['-f', join(root, 'docker-compose.yml'), '--project-name', `cp${randomUUID().slice(0, 8)}`, 'config'], { cwd: root })
    expect(stdout).toContain('wal_level=logical')
  })

  it('the image runs the compiled tree, and everything the compiled tree imports is a production dependency', async () => {
    const dockerfile = await readFile(join(root, 'Dockerfile'), 'utf8')
    expect(dockerfile).toMatch(/^FROM node:20-slim AS build/m)
    expect(dockerfile).toContain('RUN npm run build')
    expect(dockerfile).toContain('npm ci --omit=dev')
    expect(dockerfile).toContain('COPY --from=build /app/dist ./dist')
    expect(dockerfile).toContain('ENTRYPOINT ["node", "bin/coldpipe.mjs"]')
    expect(dockerfile).toContain('CMD ["start", "--config", "/config/coldpipe.yaml"]')
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }
    // `npm test` builds dist/ before the tests run.
    // The bundle (scripts/build-cli.mjs) lists the packages it still loads from node_modules, read from esbuild's metafile.
    const externals = JSON.parse(await readFile(join(root, 'dist/cli/externals.json'), 'utf8')) as { packages: string[] }
    expect(externals.packages).toContain('@duckdb/node-api')
    for (const name of externals.packages) expect(pkg.dependencies, `dist loads ${name}`).toHaveProperty([name])
    const ignore = await readFile(join(root, '.dockerignore'), 'utf8')
    for (const entry of ['node_modules', 'data', '.env', 'dist']) expect(ignore.split('\n')).toContain(entry)
  })
})
