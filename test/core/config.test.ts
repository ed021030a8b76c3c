import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../cli/config/index.ts'
import { ColdpipeError } from '../../core/errors.ts'
import { tempDir } from '../helpers/temp-dir.ts'

async function configFile(text: string): Promise<string> {
  const dir = await tempDir()
  const file = join(dir, 'coldpipe.yaml')
  await writeFile(file, text)
  return file
}

function failure(run: () => unknown): ColdpipeError {
  try {
    run()
  } catch (error) {
    if (error instanceof ColdpipeError) return error
    throw error
  }
  throw new Error('expected a ColdpipeError')
}

const good = `
lake: ./data/lake
warehouse: ./data/warehouse
sources:
  ordering: { kind: postgres, url: "\${ORDERING_DB_URL}" }
  catalog:  { kind: mysql,    url: "mysql://root@127.0.0.1:3306/test" }
exports:
  - source: ordering
    schedule: "0 2 * * *"
    timezone: Europe/Berlin
    tables:
      - { name: orders, mode: incremental, cursor: updated_at, key: [id], lagSeconds: 300 }
      - { name: order_items, mode: full }
changes:
  brokers: [localhost:9092]
  topics:
    - { topic: ordering.public.orders, format: debezium, service: ordering, table: orders_cdc, key: [id] }
    - { topic: ordering.events, format: integration-event, service: ordering }
models: ./models
reports: ./reports
api: { port: 3100 }
`

describe('loadConfig', () => {
  it('reads a good file, interpolates the environment, applies defaults and resolves paths', async () => {
    const file = await configFile(good)
    const config = loadConfig(file, { ORDERING_DB_URL: 'postgres://svc@db:5432/ordering' })
    expect(config.sources.ordering).toMatchObject({ kind: 'postgres', url: 'postgres://svc@db:5432/ordering', maxConnections: 2 })
    expect(config.exports[0]!.tables![1]).toMatchObject({ name: 'order_items', mode: 'full', lagSeconds: 0 })
    expect(config.changes).toMatchObject({ groupId: 'coldpipe', flushMaxRows: 50_000 })
    expect(config.api).toMatchObject({ port: 3100, host: '127.0.0.1', sqlEnabled: false })
    expect(config.lake).toBe(join(file, '..', 'data', 'lake'))
    expect(config.warehouse).toMatchObject({ path: join(file, '..', 'data', 'warehouse'), keepSnapshots: 5 })
  })

  it('names the variable and the field when an environment variable is missing', async () => {
    const file = await configFile(good)
    const error = failure(() => loadConfig(file, {}))
    expect(error.code).toBe('CONFIG_ENV_MISSING')
    expect(error.message).toBe('environment variable ORDERING_DB_URL is not set (used by sources.ordering.url)')
  })

  it('lists the allowed values for an unknown source kind', async () => {
    const file = await configFile(good.replace('kind: mysql', 'kind: oracle'))
    const error = failure(() => loadConfig(file, { ORDERING_DB_URL: 'x' }))
    expect(error.code).toBe('CONFIG_INVALID')
    expect(error.message).toContain('sources.catalog.kind: must be one of "postgres", "mysql" (got "oracle")')
  })

  it('rejects an unknown setting by its path', async () => {
    const file = await configFile(good.replace('mode: full }', 'mode: full, colour: red }'))
    const error = failure(() => loadConfig(file, { ORDERING_DB_URL: 'x' }))
    expect(error.message).toContain('exports[0].tables[1].colour: is not a known setting')
  })

  it('reports a wrong type with the value it got', async () => {
    const file = await configFile(good.replace('port: 3100', 'port: "three thousand"'))
    const error = failure(() => loadConfig(file, { ORDERING_DB_URL: 'x' }))
    expect(error.message).toMatch(/api\.port: must be integer \(got "three thousand"\)/)
  })

  it('requires cursor and key for incremental tables', async () => {
    const file = await configFile(good.replace('cursor: updated_at, key: [id], ', ''))
    const error = failure(() => loadConfig(file, { ORDERING_DB_URL: 'x' }))
    expect(error.message).toContain('exports[0].tables[0].cursor: is required for mode incremental')
    expect(error.message).toContain('exports[0].tables[0].key: is required for mode incremental')
  })

  it('says which source an export names when it does not exist', async () => {
    const file = await configFile(good.replace('- source: ordering', '- source: shipping'))
    const error = failure(() => loadConfig(file, { ORDERING_DB_URL: 'x' }))
    expect(error.message).toContain('exports[0].source: names source "shipping", which is not under sources')
  })

  it('refuses a table fed by both an export and a change topic, naming both', async () => {
    const file = await configFile(good.replace('service: ordering, table: orders_cdc', 'service: ordering, table: orders'))
    const error = failure(() => loadConfig(file, { ORDERING_DB_URL: 'x' }))
    expect(error.code).toBe('CONFIG_INVALID')
    expect(error.message).toContain('changes.topics[0].table: lands in ordering.orders, which exports[0].tables[0] also exports')
  })

  it('points at the line of a YAML syntax error', async () => {
    const file = await configFile('lake: ./data\nsources: [unclosed\n')
    const error = failure(() => loadConfig(file))
    expect(error.code).toBe('CONFIG_PARSE_FAILED')
    expect(error.message).toMatch(/coldpipe\.yaml:\d+:\d+: not valid YAML/)
  })

  it('reports required top-level settings that are missing', async () => {
    const file = await configFile('sources: {}\n')
    const error = failure(() => loadConfig(file))
    expect(error.message).toContain('lake: is required')
    expect(error.message).toContain('warehouse: is required')
  })

  it('says when the file does not exist', () => {
    const error = failure(() => loadConfig('/nonexistent/coldpipe.yaml'))
    expect(error.code).toBe('CONFIG_NOT_FOUND')
    expect(error.message).toContain('/nonexistent/coldpipe.yaml')
  })

  it('schedules compaction and retention unless the file gives other schedules; publish stays manual', async () => {
    const plain = loadConfig(await configFile('lake: ./lake\nwarehouse: ./wh\n'))
    expect(plain.jobs.compaction).toEqual({ schedule: '*/15 * * * *', timezone: 'UTC' })
    expect(plain.jobs.retention).toEqual({ schedule: '30 3 * * *', timezone: 'UTC' })
    expect(plain.jobs.publish).toBeUndefined()
    const own = loadConfig(await configFile('lake: ./lake\nwarehouse: ./wh\njobs:\n  compaction: { schedule: "0 * * * *" }\n'))
    expect(own.jobs.compaction).toEqual({ schedule: '0 * * * *', timezone: 'UTC' })
  })
})
