import { spawn, spawnSync } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Kafka, logLevel } from 'kafkajs'
import { describe, expect, it, onTestFinished } from 'vitest'
import { tempDir } from '../helpers/temp-dir.ts'
import { waitFor } from '../helpers/wait-for.ts'

const bin = fileURLToPath(new URL('../../bin/coldpipe.mjs', import.meta.url))

function coldpipe(args: string[], cwd?: string) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd, env: { ...process.env, PORT: '' } })
}

describe('coldpipe CLI', () => {
  it('lists every command in --help, and each command has its own --help', () => {
    const help = coldpipe(['--help'])
    expect(help.status).toBe(0)
    for (const command of ['demo', 'start', 'export', 'ingest', 'publish', 'serve', 'sql', 'jobs', 'status', 'dev-broker']) {
      expect(help.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'))
    }
    const sql = coldpipe(['sql', '--help'])
    expect(sql.status).toBe(0)
    expect(sql.stdout).toContain('--command <sql>')
    expect(sql.stdout).toContain('--format <format>')
  })

  it('refuses a bad config file with the field and the reason, exit code 1', async () => {
    const dir = await tempDir()
    const file = join(dir, 'coldpipe.yaml')
    await writeFile(file, 'lake: ./lake\nwarehouse: ./wh\napi:\n  port: "not a port"\nexports:\n  - source: nowhere\n')
    const result = coldpipe(['--config', file, 'status'])
    expect(result.status).toBe(1)
    expect(result.stderr).toContain('CONFIG_INVALID')
    expect(result.stderr).toMatch(/api\.port/)
    const missing = coldpipe(['--config', join(dir, 'absent.yaml'), 'publish'])
    expect(missing.status).toBe(1)
    expect(missing.stderr).toContain('CONFIG_NOT_FOUND')
    expect(missing.stderr).toContain('absent.yaml')
  })

  it('runs the dev broker until SIGTERM, reachable by kafkajs', async () => {
    const child = spawn(process.execPath, [bin, 'dev-broker', '--port', '0', '--partitions', '2'], { stdio: ['ignore', 'pipe', 'pipe'] })
    onTestFinished(() => void child.kill('SIGKILL'))
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk))
    const bootstrap = await waitFor(() => /"bootstrap":"([^"]+)"/.exec(output)?.[1], { timeoutMs: 20_000, message: 'dev broker ready log line' })
    const admin = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING }).admin()
    await admin.connect()
    await admin.createTopics({ topics: [{ topic: 'cli-check', numPartitions: 2 }] })
    expect(await admin.listTopics()).toContain('cli-check')
    await admin.disconnect()
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    child.kill('SIGTERM')
    expect(await exited).toBe(143)
  })
})
