import { fork, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { ColdpipeError, type ErrorCode } from '../../core/errors.ts'
import type { Logger } from '../../core/logger.ts'
import { processRssBytes } from './process-rss.ts'
import type { StreamFormat } from '../result-formats.ts'
import type { FromWorker, ToWorker, WorkerResult } from './sql-worker-protocol.ts'

export type KillReason = 'timeout' | 'memory' | 'aborted' | 'shutdown'

export interface WorkerSettings {
  warehouseDir: string
  memoryLimit: string
  threads: number
  maxRssBytes: number
  rssPollMs: number
  logger: Logger
}

/** The worker entry next to this file: `.ts` under tsx and vitest, `.js` in a compiled tree. */
function workerEntry(): { path: string; execArgv: string[] } {
  const typescript = import.meta.url.endsWith('.ts')
  const path = fileURLToPath(new URL(`./sql-worker-main${typescript ? '.ts' : '.js'}`, import.meta.url))
  const execArgv = [...process.execArgv]
  // bin/coldpipe.mjs registers tsx in-process and vitest transforms on its own, so a child does not inherit
  // a TypeScript loader through execArgv: add tsx's unless one is there already.
  if (typescript && !execArgv.some((arg) => arg.includes('tsx'))) {
    execArgv.push('--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href)
  }
  return { path, execArgv }
}

let nextQueryId = 1

/** One forked SQL worker process with one snapshot open; runs one query at a time, can be killed at any time. */
export class SqlWorkerProcess {
  readonly child: ChildProcess
  readonly pid: number
  state: 'starting' | 'idle' | 'busy' | 'exited' = 'starting'
  /** Taken by a query (possibly still starting); unclaimed idle or starting workers are free to take. */
  claimed = false
  /** Serves a snapshot that is no longer current: exits once its query is done. */
  retired = false
  killedFor: KillReason | undefined
  peakRssBytes = 0
  readonly ready: Promise<void>
  readonly exited: Promise<void>
  /**
   * This worker's private folder (0700, one per worker, removed when it exits): the only place its DuckDB may
   * write, and only the server makes files there (the pipes of its streams). See docs/reports-api.md, Sandbox.
   */
  readonly streamDir: string
  private onStreamChecked: (() => void) | undefined
  private pending: { id: number; resolve: (result: unknown) => void; reject: (error: Error) => void } | undefined
  private rssTimer: NodeJS.Timeout | undefined
  private stderrTail = ''

  constructor(
    readonly snapshotId: number,
    private readonly settings: WorkerSettings,
    private readonly onKill: (worker: SqlWorkerProcess, reason: KillReason) => void,
  ) {
    const entry = workerEntry()
    this.streamDir = mkdtempSync(join(tmpdir(), 'coldpipe-sql-worker-'))
    this.child = fork(entry.path, [], { execArgv: entry.execArgv, stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'json' })
    this.pid = this.child.pid ?? -1
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-4000)
    })
    this.exited = new Promise<void>((resolve) => {
      // A fork that fails (EAGAIN, ENOMEM) emits 'error' and never 'exit'.
      this.child.once('error', (error) => {
        if (this.child.pid !== undefined) return
        this.state = 'exited'
        rmSync(this.streamDir, { recursive: true, force: true })
        settings.logger.error({ err: error }, 'cannot start a SQL worker process')
        this.failPending(new ColdpipeError('INTERNAL', `cannot start a SQL worker process: ${error.message}`))
        resolve()
      })
      this.child.once('exit', (code, signal) => {
        this.state = 'exited'
        rmSync(this.streamDir, { recursive: true, force: true })
        this.stopWatchdog()
        const reason = this.killedFor ? `killed (${this.killedFor})` : `exited (${signal ?? code})`
        if (!this.killedFor && code !== 0) settings.logger.warn({ pid: this.pid, code, signal, stderr: this.stderrTail.trim() || undefined }, 'SQL worker exited unexpectedly')
        this.failPending(new ColdpipeError('INTERNAL', `the SQL worker process ${reason} while running the query`, { context: { pid: this.pid } }))
        resolve()
      })
    })
    this.ready = new Promise<void>((resolve, reject) => {
      const onMessage = (message: FromWorker): void => {
        if (message.type === 'ready') {
          if (this.state === 'starting') this.state = 'idle'
          resolve()
        } else if (message.type === 'open-failed') reject(new ColdpipeError(message.error.code, message.error.message, { context: message.error.context }))
        else if (message.type === 'result' && this.pending?.id === message.id) this.settle().resolve(message.result)
        else if (message.type === 'stream-checked' && this.pending?.id === message.id) this.onStreamChecked?.()
        else if (message.type === 'streamed' && this.pending?.id === message.id) this.settle().resolve(message.rows)
        else if (message.type === 'error' && this.pending?.id === message.id) this.settle().reject(new ColdpipeError(message.error.code, message.error.message, { context: message.error.context }))
      }
      this.child.on('message', onMessage)
      void this.exited.then(() => reject(new ColdpipeError('INTERNAL', `the SQL worker process exited before it opened snapshot ${snapshotId}`, { context: { pid: this.pid, stderr: this.stderrTail.trim() } })))
    })
    this.ready.catch(() => {})
    this.child.on('error', (error) => settings.logger.warn({ pid: this.pid, err: error }, 'SQL worker process error'))
    this.send({ type: 'open', warehouseDir: settings.warehouseDir, snapshotId, memoryLimit: settings.memoryLimit, threads: settings.threads, streamDir: this.streamDir })
  }

  private send(message: ToWorker): void {
    if (this.state === 'exited' || !this.child.connected) return
    this.child.send(message, (error) => {
      if (error) this.settings.logger.debug({ pid: this.pid, err: error }, 'message to SQL worker not delivered')
    })
  }

  private settle(): { resolve: (result: unknown) => void; reject: (error: Error) => void } {
    const pending = this.pending!
    this.pending = undefined
    this.stopWatchdog()
    if (this.state === 'busy') this.state = 'idle'
    return pending
  }

  private failPending(error: Error): void {
    if (this.pending) this.settle().reject(error)
  }

  query(sql: string, maxRows: number, maxResultBytes: number): Promise<WorkerResult> {
    return this.run<WorkerResult>((id) => ({ type: 'query', id, sql, maxRows, maxResultBytes }))
  }

  /** Runs `COPY (sql) TO path` in the worker (path: a pipe in streamDir); resolves with the row count once COPY ended. */
  stream(sql: string, format: StreamFormat, path: string, onChecked: () => void): Promise<number> {
    const done = this.run<number>((id) => ({ type: 'stream', id, sql, format, path }))
    this.onStreamChecked = onChecked
    return done.finally(() => (this.onStreamChecked = undefined))
  }

  private run<T>(message: (id: number) => ToWorker): Promise<T> {
    if (this.state !== 'idle') return Promise.reject(new ColdpipeError('INTERNAL', `SQL worker ${this.pid} is ${this.state}, not idle`))
    const id = nextQueryId++
    this.state = 'busy'
    const result = new Promise<T>((resolve, reject) => (this.pending = { id, resolve: resolve as (result: unknown) => void, reject }))
    this.startWatchdog()
    this.send(message(id))
    return result
  }

  interrupt(): void {
    if (this.pending) this.send({ type: 'interrupt', id: this.pending.id })
  }

  /** SIGKILL; a running query fails at once with the code that fits the reason. */
  kill(reason: KillReason, code: ErrorCode = 'INTERNAL', message = `the SQL worker was stopped (${reason})`): void {
    if (this.state === 'exited') return
    if (!this.killedFor) {
      this.killedFor = reason
      this.onKill(this, reason)
    }
    this.failPending(new ColdpipeError(code, message, { context: { pid: this.pid } }))
    this.child.kill('SIGKILL')
  }

  /** Asks an idle worker to close its snapshot and exit. */
  stop(): void {
    if (this.state === 'idle') this.send({ type: 'exit' })
    else this.kill('shutdown')
  }

  /** Polls the worker's RSS while it runs a query; DuckDB's memory_limit does not cover every allocation. */
  private startWatchdog(): void {
    this.stopWatchdog()
    let reading = false
    this.rssTimer = setInterval(() => {
      if (reading) return
      reading = true
      void processRssBytes(this.pid)
        .then((rss) => {
          if (rss === undefined || this.state !== 'busy') return
          this.peakRssBytes = Math.max(this.peakRssBytes, rss)
          if (rss > this.settings.maxRssBytes) {
            this.settings.logger.warn({ pid: this.pid, rssBytes: rss, maxRssBytes: this.settings.maxRssBytes }, 'SQL worker over its memory ceiling; killed')
            this.kill(
              'memory',
              'SQL_MEMORY_EXCEEDED',
              `the query used more than api.sqlWorkerMaxRssBytes (${this.settings.maxRssBytes} bytes) and was stopped; select fewer or smaller values`,
            )
          }
        })
        .finally(() => {
          reading = false
        })
    }, this.settings.rssPollMs)
    this.rssTimer.unref()
  }

  private stopWatchdog(): void {
    if (this.rssTimer) clearInterval(this.rssTimer)
    this.rssTimer = undefined
  }
}
