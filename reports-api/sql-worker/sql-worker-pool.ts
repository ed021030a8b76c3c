import { ColdpipeError } from '../../core/errors.ts'
import type { Logger } from '../../core/logger.ts'
import type { WorkerResult } from './sql-worker-protocol.ts'
import { SqlWorkerProcess, type KillReason } from './sql-worker-process.ts'

export interface SqlWorkerPoolOptions {
  warehouseDir: string
  /** Workers kept open for the current snapshot; the SQL limiter keeps running queries at or below it. */
  size: number
  memoryLimit: string
  threads: number
  maxRssBytes: number
  /** After the interrupt at the deadline, how long a worker may take to answer before it is killed. */
  killGraceMs: number
  rssPollMs?: number
  logger: Logger
}

/** When and how a piece of worker work ends, whatever it is (a query, a stream). */
export interface SqlTaskRequest {
  snapshotId: number
  /** Epoch ms: the answer is SQL_TIMEOUT at this moment, whatever the worker is doing. */
  deadline: number
  timeoutMs: number
  signal?: AbortSignal
}

export interface SqlRequest extends SqlTaskRequest {
  sql: string
  maxRows: number
  maxResultBytes: number
}

export interface SqlJob<T = WorkerResult> {
  /** Settles at the latest at the deadline (or at once on abort or a memory kill). */
  answer: Promise<T>
  /** Settles once the worker is idle again or gone: the query slot is held until then. */
  done: Promise<void>
}

export interface SqlWorkerStats {
  workers: number
  idle: number
  busy: number
  starting: number
  started: number
  killed: number
  killedForTimeout: number
  killedForMemory: number
  killedForAbort: number
}

/**
 * Ad-hoc SQL runs in child processes: a query past its deadline is interrupted and, if its worker does not
 * answer within killGraceMs, the worker is SIGKILLed and replaced; a worker over maxRssBytes is killed at once.
 * Workers open the current snapshot; when it changes, idle workers exit and busy ones exit after their query.
 */
export class SqlWorkerPool {
  private readonly workers = new Set<SqlWorkerProcess>()
  private currentSnapshot: number | undefined
  private closed = false
  private startFailures = 0
  private readonly counts = { started: 0, killed: 0, killedForTimeout: 0, killedForMemory: 0, killedForAbort: 0 }

  constructor(private readonly options: SqlWorkerPoolOptions) {}

  get stats(): SqlWorkerStats {
    const alive = [...this.workers].filter((worker) => worker.state !== 'exited')
    return {
      workers: alive.length,
      idle: alive.filter((worker) => worker.state === 'idle').length,
      busy: alive.filter((worker) => worker.state === 'busy').length,
      starting: alive.filter((worker) => worker.state === 'starting').length,
      ...this.counts,
    }
  }

  /** Process ids of the live workers (tests check none survives close()). */
  pids(): number[] {
    return [...this.workers].filter((worker) => worker.state !== 'exited').map((worker) => worker.pid)
  }

  /** The current snapshot changed: new workers open it, old ones go once idle. */
  setSnapshot(snapshotId: number): void {
    this.currentSnapshot = snapshotId
    for (const worker of this.workers) {
      if (worker.snapshotId === snapshotId) continue
      worker.retired = true
      if (!worker.claimed) worker.stop()
    }
    this.fill()
  }

  /** Resolves once the current snapshot's workers are open (or failed to), so the first query does not wait for a start. */
  async warm(): Promise<void> {
    await Promise.all([...this.workers].filter((worker) => !worker.retired).map((worker) => worker.ready.catch(() => undefined)))
  }

  private spawn(snapshotId: number): SqlWorkerProcess {
    const worker = new SqlWorkerProcess(
      snapshotId,
      {
        warehouseDir: this.options.warehouseDir,
        memoryLimit: this.options.memoryLimit,
        threads: this.options.threads,
        maxRssBytes: this.options.maxRssBytes,
        rssPollMs: this.options.rssPollMs ?? 100,
        logger: this.options.logger,
      },
      (_worker, reason) => this.countKill(reason),
    )
    this.counts.started++
    this.workers.add(worker)
    let opened = false
    worker.ready.then(
      () => {
        opened = true
        this.startFailures = 0
      },
      (error) => this.options.logger.warn({ pid: worker.pid, snapshot: snapshotId, err: error }, 'SQL worker failed to open the snapshot'),
    )
    void worker.exited.then(() => {
      this.workers.delete(worker)
      if (opened || this.closed) return this.fill()
      // A worker that cannot even open the snapshot would fail again at once: back off instead of fork-looping.
      this.startFailures++
      setTimeout(() => this.fill(), Math.min(30_000, 250 * 2 ** this.startFailures)).unref()
    })
    return worker
  }

  private countKill(reason: KillReason): void {
    if (reason === 'shutdown') return
    this.counts.killed++
    if (reason === 'timeout') this.counts.killedForTimeout++
    else if (reason === 'memory') this.counts.killedForMemory++
    else if (reason === 'aborted') this.counts.killedForAbort++
  }

  /** Keeps `size` unretired workers for the current snapshot, replacing killed ones. */
  private fill(): void {
    if (this.closed || this.currentSnapshot === undefined) return
    const current = [...this.workers].filter((worker) => worker.snapshotId === this.currentSnapshot && !worker.retired && worker.state !== 'exited')
    for (let i = current.length; i < this.options.size; i++) this.spawn(this.currentSnapshot)
  }

  private claim(snapshotId: number): SqlWorkerProcess {
    const free = [...this.workers].filter((worker) => worker.snapshotId === snapshotId && !worker.claimed && !worker.retired && worker.state !== 'exited')
    const worker = free.find((candidate) => candidate.state === 'idle') ?? free.find((candidate) => candidate.state === 'starting') ?? this.spawn(snapshotId)
    // A worker for a snapshot that is not current (a switch raced this request) serves this one query only.
    if (snapshotId !== this.currentSnapshot) worker.retired = true
    worker.claimed = true
    return worker
  }

  private released(worker: SqlWorkerProcess): void {
    worker.claimed = false
    if (worker.state === 'exited') return
    if (this.closed || worker.retired || worker.snapshotId !== this.currentSnapshot) worker.stop()
    else if (worker.state === 'busy') worker.kill('shutdown')
  }

  start(request: SqlRequest): SqlJob {
    return this.startTask(request, (worker) => worker.query(request.sql, request.maxRows, request.maxResultBytes))
  }

  /**
   * Runs `task` on a worker of the snapshot (a streamed /sql result uses the worker's stream method and its
   * private folder) with the same deadline, abort, interrupt-then-kill and RSS watchdog as a query.
   */
  startTask<T>(request: SqlTaskRequest, task: (worker: SqlWorkerProcess) => Promise<T>): SqlJob<T> {
    if (this.closed) throw new ColdpipeError('WAREHOUSE_NO_SNAPSHOT', 'the reports API is shutting down')
    const worker = this.claim(request.snapshotId)
    const grace = this.options.killGraceMs
    let settleAnswer: { resolve: (result: T) => void; reject: (error: Error) => void } | undefined
    const answer = new Promise<T>((resolve, reject) => (settleAnswer = { resolve, reject }))
    const answerOnce = (settle: (target: NonNullable<typeof settleAnswer>) => void): void => {
      const target = settleAnswer
      settleAnswer = undefined
      if (target) settle(target)
    }
    let graceTimer: NodeJS.Timeout | undefined
    const stop = (reason: KillReason): void => {
      // A worker still starting simply skips the query once ready; a busy one is interrupted, then killed.
      if (worker.state !== 'busy') return
      // No grace: killed now. A zero-delay timer would still let an answer to the interrupt that arrives
      // within the same millisecond cancel the kill, so whether a worker died would depend on the machine's load.
      if (grace <= 0) {
        worker.kill(reason)
        return
      }
      worker.interrupt()
      graceTimer ??= setTimeout(() => worker.kill(reason), grace)
    }
    const onDeadline = (): void => {
      answerOnce(({ reject }) =>
        reject(
          new ColdpipeError('SQL_TIMEOUT', `the query ran longer than ${request.timeoutMs} ms (queue wait included) and was stopped`, {
            context: { timeoutMs: request.timeoutMs, snapshot: request.snapshotId },
          }),
        ),
      )
      stop('timeout')
    }
    const onAbort = (): void => {
      answerOnce(({ reject }) => reject(new ColdpipeError('REQUEST_ABORTED', 'the client closed the connection; the query was cancelled')))
      stop('aborted')
    }
    const deadlineTimer = setTimeout(onDeadline, Math.max(0, request.deadline - Date.now()))
    request.signal?.addEventListener('abort', onAbort, { once: true })
    if (request.signal?.aborted) onAbort()
    const done = (async () => {
      try {
        await worker.ready
        if (!settleAnswer) return
        const result = await task(worker)
        answerOnce(({ resolve }) => resolve(result))
      } catch (error) {
        answerOnce(({ reject }) => reject(error as Error))
      } finally {
        clearTimeout(deadlineTimer)
        clearTimeout(graceTimer)
        request.signal?.removeEventListener('abort', onAbort)
        this.released(worker)
      }
    })()
    return { answer, done }
  }

  /** Stops every worker (idle ones cleanly, busy ones with SIGKILL) and waits until each process is gone. */
  async close(): Promise<void> {
    this.closed = true
    const workers = [...this.workers]
    for (const worker of workers) worker.stop()
    const deadline = setTimeout(() => {
      for (const worker of workers) worker.kill('shutdown')
    }, 2000)
    await Promise.all(workers.map((worker) => worker.exited))
    clearTimeout(deadline)
  }
}
