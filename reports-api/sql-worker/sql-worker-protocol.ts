import type { ColumnInfo } from '../../core/duckdb/index.ts'
import type { ErrorCode } from '../../core/errors.ts'
import type { StreamFormat } from '../result-formats.ts'

/** What the server sends a SQL worker process over IPC. */
export type ToWorker =
  | { type: 'open'; warehouseDir: string; snapshotId: number; memoryLimit: string; threads: number; streamDir: string }
  | { type: 'query'; id: number; sql: string; maxRows: number; maxResultBytes: number }
  /** Checks `sql` like a query, then runs the server-built `COPY (sql) TO path` into a pipe the server made in streamDir. */
  | { type: 'stream'; id: number; sql: string; format: StreamFormat; path: string }
  | { type: 'interrupt'; id: number }
  | { type: 'exit' }

export interface WorkerResult {
  columns: ColumnInfo[]
  rows: Record<string, unknown>[]
  truncated: boolean
  /** Which cap cut the result: the row cap (sqlMaxRows) or the byte cap (sqlMaxResultBytes). */
  truncatedBy?: 'rows' | 'bytes'
}

export interface WorkerError {
  code: ErrorCode
  message: string
  context: Record<string, unknown>
}

/** What a SQL worker process answers. */
export type FromWorker =
  | { type: 'ready'; snapshotId: number }
  | { type: 'open-failed'; error: WorkerError }
  | { type: 'result'; id: number; result: WorkerResult }
  /** The stream's statement passed every check; COPY starts now (errors before this still get a status). */
  | { type: 'stream-checked'; id: number }
  | { type: 'streamed'; id: number; rows: number }
  | { type: 'error'; id: number; error: WorkerError }
